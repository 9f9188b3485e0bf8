"""The connection every remote command uses: a botocore Lambda client for one gureum endpoint.

Requests are signed with whatever credentials the usual AWS chain finds (or a dummy pair, which a
loopback gureum accepts), so the commands work against a remote gureum as against a local one.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import botocore.session
import typer
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    ProfileNotFound,
    WaiterError,
)
from botocore.exceptions import (
    ConnectionError as EndpointUnreachable,
)

from .console import fail

DEFAULT_ENDPOINT = "http://127.0.0.1:9000"
DEFAULT_REGION = "us-east-1"
# Used when no credentials are configured: a loopback gureum accepts any.
DUMMY_KEY = ("gureum", "gureum")
INVOKE_READ_TIMEOUT_S = 960  # Lambda's longest timeout (900 s), and some slack

Endpoint = Annotated[
    str,
    typer.Option(envvar="GUREUM_ENDPOINT", help="The gureum server's URL."),
]
Profile = Annotated[
    str | None,
    typer.Option(envvar="AWS_PROFILE", help="AWS profile whose credentials sign the requests."),
]
FunctionName = Annotated[str, typer.Argument(metavar="NAME", help="The function's name (or ARN).")]


class ApiError(Exception):
    """An error answer from one of gureum's own endpoints, shaped as the Lambda API's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Remote:
    """One gureum endpoint, and the credentials and region requests to it are signed with."""

    endpoint: str
    session: botocore.session.Session
    region: str
    _clients: dict[bool, Any] = field(default_factory=dict)
    _services: dict[str, Any] = field(default_factory=dict)

    def lambda_client(self, *, for_invoke: bool = False) -> Any:
        """A botocore Lambda client; ``for_invoke`` waits long and never retries (an invoke
        retried after a read timeout would run the function twice)."""
        if for_invoke not in self._clients:
            config = Config(
                connect_timeout=5,
                read_timeout=INVOKE_READ_TIMEOUT_S if for_invoke else 60,
                retries={"mode": "standard", "total_max_attempts": 1 if for_invoke else 3},
            )
            self._clients[for_invoke] = self.session.create_client(
                "lambda", endpoint_url=self.endpoint, region_name=self.region, config=config
            )
        return self._clients[for_invoke]

    def service_client(self, service: str) -> Any:
        """A botocore client of another of gureum's APIs (``s3``, path-style; ``sqs``)."""
        if service not in self._services:
            config = Config(
                connect_timeout=5,
                read_timeout=60,
                retries={"mode": "standard", "total_max_attempts": 3},
                s3={"addressing_style": "path"},
            )
            self._services[service] = self.session.create_client(
                service, endpoint_url=self.endpoint, region_name=self.region, config=config
            )
        return self._services[service]

    def get_json(self, path: str, query: dict[str, str]) -> Any:
        """GET one of gureum's own endpoints, SigV4-signed as the Lambda API's requests are."""
        return self.send_json("GET", path, query)

    def send_json(
        self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None
    ) -> Any:
        """One request to gureum's own endpoints (``/_gureum/...``), with an optional JSON body;
        returns the JSON answer (None when there is none) or raises ApiError."""
        url = f"{self.endpoint.rstrip('/')}{path}?{urllib.parse.urlencode(query or {})}"
        data = None if body is None else json.dumps(body).encode()
        headers = {} if data is None else {"Content-Type": "application/json"}
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        credentials: ReadOnlyCredentials = self.session.get_credentials().get_frozen_credentials()
        SigV4Auth(credentials, "lambda", self.region).add_auth(request)
        prepared = request.prepare()
        try:
            with urllib.request.urlopen(
                urllib.request.Request(
                    prepared.url, data=data, headers=dict(prepared.headers), method=method
                ),
                timeout=60,
            ) as response:
                answer = response.read()
                return json.loads(answer) if answer else None
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                message = json.loads(text).get("message") or text.decode()
            except ValueError:
                message = text.decode("utf-8", "replace")
            code = error.headers.get("x-amzn-ErrorType") or f"HTTP {error.code}"
            raise ApiError(code.split(":")[0], message) from error
        except urllib.error.URLError as error:
            raise ConnectionError(str(error.reason)) from error


def connect(endpoint: str, profile: str | None) -> Remote:
    """A Remote for ``endpoint``, with the credentials of ``profile`` (or the default chain)."""
    try:
        session = botocore.session.Session(profile=profile)
        # Instance and container metadata services are for AWS's own hosts; never ask them.
        resolver = session.get_component("credential_provider")
        for method in ("container-role", "iam-role"):
            resolver.remove(method)
        if session.get_credentials() is None:
            session.set_credentials(*DUMMY_KEY)
        region = session.get_config_variable("region") or DEFAULT_REGION
    except ProfileNotFound as exc:
        raise typer.BadParameter(str(exc), param_hint="--profile") from exc
    return Remote(endpoint, session, region)


def error_code(exc: ClientError) -> str:
    """The Lambda error type of a refusal (``ResourceNotFoundException``, ...)."""
    code: str = exc.response.get("Error", {}).get("Code", "")
    return code


@contextlib.contextmanager
def reporting_errors(endpoint: str) -> Iterator[None]:
    """Turn the server's refusals and unreachable servers into one line on stderr and exit 1."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        fail(f"{error.get('Code', 'Error')}: {error.get('Message', exc)}")
    except ApiError as exc:
        fail(f"{exc.code}: {exc.message}")
    except WaiterError as exc:
        fail(f"gave up waiting for the function: {exc}")
    except (EndpointUnreachable, ConnectionError) as exc:
        fail(f"cannot reach gureum at {endpoint} ({exc}); is `gureum serve` running?")
    except HTTPClientError as exc:
        fail(f"the connection to gureum at {endpoint} failed: {exc}")
    except BotoCoreError as exc:
        fail(str(exc))


@contextlib.contextmanager
def lambda_client(endpoint: str, profile: str | None) -> Iterator[Any]:
    """A Lambda client for ``endpoint``, whose errors end the command as reporting_errors says."""
    remote = connect(endpoint, profile)
    with reporting_errors(endpoint):
        yield remote.lambda_client()
