"""Commands that talk to a running `gureum serve` over its API: deploy, invoke, logs, ls, rm.

They speak the Lambda API through botocore (boto3's own engine, already a dependency), signed with
whatever credentials the usual AWS chain finds, so they work against a remote gureum as they do
against a local one. Exit codes: 0 done, 1 the server or the function said no, 2 bad input.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, NoReturn

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
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .manifest import FunctionSpec, ManifestError, load
from .packaging import PackagingError, package

DEFAULT_ENDPOINT = "http://127.0.0.1:9000"
DEFAULT_REGION = "us-east-1"
# Used when no credentials are configured: a loopback gureum accepts any.
DUMMY_KEY = ("gureum", "gureum")
# CreateFunction requires a role; gureum does not use it.
PLACEHOLDER_ROLE = "arn:aws:iam::000000000000:role/gureum-function"
INVOKE_READ_TIMEOUT_S = 960  # Lambda's longest timeout (900 s), and some slack
FOLLOW_PAGE = 10_000

out = Console()
err = Console(stderr=True)

Endpoint = Annotated[
    str,
    typer.Option(envvar="GUREUM_ENDPOINT", help="The gureum server's URL."),
]
Profile = Annotated[
    str | None,
    typer.Option(envvar="AWS_PROFILE", help="AWS profile whose credentials sign the requests."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Name = Annotated[str, typer.Argument(metavar="NAME", help="The function's name (or ARN).")]


# --- talking to the server -------------------------------------------------------------------


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

    def get_json(self, path: str, query: dict[str, str]) -> Any:
        """GET one of gureum's own endpoints, SigV4-signed as the Lambda API's requests are."""
        url = f"{self.endpoint.rstrip('/')}{path}?{urllib.parse.urlencode(query)}"
        request = AWSRequest(method="GET", url=url)
        credentials: ReadOnlyCredentials = self.session.get_credentials().get_frozen_credentials()
        SigV4Auth(credentials, "lambda", self.region).add_auth(request)
        prepared = request.prepare()
        try:
            with urllib.request.urlopen(
                urllib.request.Request(prepared.url, headers=dict(prepared.headers)), timeout=60
            ) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            body = error.read()
            try:
                message = json.loads(body).get("message") or body.decode()
            except ValueError:
                message = body.decode("utf-8", "replace")
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


@contextlib.contextmanager
def reporting_errors(endpoint: str) -> Iterator[None]:
    """Turn the server's refusals and unreachable servers into one line on stderr and exit 1."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        _fail(f"{error.get('Code', 'Error')}: {error.get('Message', exc)}")
    except ApiError as exc:
        _fail(f"{exc.code}: {exc.message}")
    except WaiterError as exc:
        _fail(f"gave up waiting for the function: {exc}")
    except (EndpointUnreachable, ConnectionError) as exc:
        _fail(f"cannot reach gureum at {endpoint} ({exc}); is `gureum serve` running?")
    except HTTPClientError as exc:
        _fail(f"the connection to gureum at {endpoint} failed: {exc}")
    except BotoCoreError as exc:
        _fail(str(exc))


def _fail(message: str, code: int = 1) -> NoReturn:
    # soft_wrap: a long ARN or path stays on one line, whole, for the user to copy.
    err.print(f"[red]error[/red]: {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


# --- deploy ----------------------------------------------------------------------------------


def deploy(
    path: Annotated[
        Path,
        typer.Argument(
            help="A folder of handler code (optional requirements.txt and gureum.yaml), "
            "a SAM template.yaml, or a folder holding one.",
            exists=True,
        ),
    ],
    name: Annotated[str | None, typer.Option(help="Deploy under this name.")] = None,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """Create the function(s), or update code and configuration of those that exist."""
    try:
        deployment = load(path, name)
    except ManifestError as exc:
        _fail(str(exc), code=2)
    for warning in deployment.warnings:
        err.print(f"[yellow]warning[/yellow]: {escape(warning)}", highlight=False, soft_wrap=True)
    remote = connect(endpoint, profile)
    client = remote.lambda_client()
    packages: dict[Path, bytes] = {}  # functions of one template may share a folder
    summaries = []
    with reporting_errors(endpoint):
        for spec in deployment.functions:
            if spec.code_dir not in packages:
                with err.status(f"Packaging {escape(str(spec.code_dir))}"):
                    try:
                        packages[spec.code_dir] = package(spec.code_dir)
                    except PackagingError as exc:
                        _fail(str(exc))
            code = packages[spec.code_dir]
            with err.status(f"Uploading {escape(spec.name)} ({_size(len(code))})"):
                summary = _create_or_update(client, spec, code)
            err.print(f"{summary['action']} {escape(spec.name)}", highlight=False)
            summaries.append(summary)
    if as_json:
        typer.echo(json.dumps({"functions": summaries, "warnings": deployment.warnings}))
        return
    table = Table("name", "code size", "sha256", box=None)
    table.add_column("arn", overflow="fold")  # folded, never cut: it is there to be copied
    for summary in summaries:
        table.add_row(
            summary["name"], _size(summary["codeSize"]), summary["sha256"][:12], summary["arn"]
        )
    out.print(table)


def _create_or_update(client: Any, spec: FunctionSpec, code: bytes) -> dict[str, Any]:
    """Create ``spec``'s function, or update it: its code (when it changed), then its settings."""
    settings = {
        "Runtime": spec.runtime,
        "Handler": spec.handler,
        "MemorySize": spec.memory_mb,
        "Timeout": spec.timeout_s,
        "Environment": {"Variables": spec.env},
        "Description": spec.description,
    }
    digest = hashlib.sha256(code).digest()
    waiter_config = {"Delay": 1, "MaxAttempts": 120}
    try:
        current = client.get_function_configuration(FunctionName=spec.name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        result = client.create_function(
            FunctionName=spec.name, Role=PLACEHOLDER_ROLE, Code={"ZipFile": code}, **settings
        )
        client.get_waiter("function_active_v2").wait(
            FunctionName=spec.name, WaiterConfig=waiter_config
        )
        action = "created"
    else:
        action = "updated"
        if current.get("CodeSha256") == base64.b64encode(digest).decode():
            action = "updated (code unchanged)"
        else:
            client.update_function_code(FunctionName=spec.name, ZipFile=code)
            client.get_waiter("function_updated_v2").wait(
                FunctionName=spec.name, WaiterConfig=waiter_config
            )
        result = client.update_function_configuration(FunctionName=spec.name, **settings)
        client.get_waiter("function_updated_v2").wait(
            FunctionName=spec.name, WaiterConfig=waiter_config
        )
    if result.get("CodeSha256") != base64.b64encode(digest).decode():
        raise ApiError("CodeMismatch", "the server holds other code than was uploaded")
    return {
        "name": result["FunctionName"],
        "action": action,
        "arn": result["FunctionArn"],
        "runtime": result.get("Runtime"),
        "handler": result.get("Handler"),
        "memorySize": result.get("MemorySize"),
        "timeout": result.get("Timeout"),
        "codeSize": result.get("CodeSize", len(code)),
        "sha256": digest.hex(),
        "lastModified": result.get("LastModified"),
    }


# --- invoke ----------------------------------------------------------------------------------


def _read_event(event: str) -> bytes:
    """``--event``: JSON, or @file (@- for stdin); checked to be JSON."""
    if event.startswith("@"):
        source = event[1:]
        try:
            payload = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {source}: {exc}", param_hint="--event") from exc
    else:
        payload = event.encode()
    try:
        json.loads(payload)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--event") from exc
    return payload


def invoke(
    name: Name,
    event: Annotated[
        str, typer.Option(help="The event: JSON, or @file.json (@- reads stdin).")
    ] = "{}",
    qualifier: Annotated[str | None, typer.Option(help="Version or alias to invoke.")] = None,
    is_async: Annotated[
        bool, typer.Option("--async", help="Queue the event (InvocationType=Event).")
    ] = False,
    show_logs: Annotated[
        bool, typer.Option("--logs", help="Print the log tail on stderr.")
    ] = False,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """Invoke a function: prints its result on stdout; exit 1 if the function failed."""
    if is_async and show_logs:
        raise typer.BadParameter("an --async invoke has no log tail", param_hint="--logs")
    payload = _read_event(event)
    request: dict[str, Any] = {"FunctionName": name, "Payload": payload}
    request["InvocationType"] = "Event" if is_async else "RequestResponse"
    if qualifier:
        request["Qualifier"] = qualifier
    if show_logs:
        request["LogType"] = "Tail"
    remote = connect(endpoint, profile)
    with reporting_errors(endpoint):
        response = remote.lambda_client(for_invoke=True).invoke(**request)
        body: bytes = response["Payload"].read()
    status = response["StatusCode"]
    if is_async:
        typer.echo(json.dumps({"statusCode": status}) if as_json else f"{status} Accepted")
        return
    tail = None
    if show_logs:
        tail = base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace")
    function_error = response.get("FunctionError")
    if as_json:
        try:
            result: Any = json.loads(body) if body else None
        except ValueError:
            result = body.decode("utf-8", "replace")
        summary = {
            "statusCode": status,
            "executedVersion": response.get("ExecutedVersion"),
            "functionError": function_error,
            "payload": result,
            "logs": tail,
        }
        typer.echo(json.dumps(summary))
    else:
        # Plain writes, not rich: logs and payloads must come out byte for byte, unwrapped.
        if tail is not None:
            typer.echo(tail, err=True, nl=False)
        typer.echo(body.decode("utf-8", "replace"))
    if function_error:
        raise typer.Exit(1)


# --- logs ------------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float) -> float:
    """``10m``, ``2h``, ``1d`` (before ``now``) or an ISO time (local if it names no zone)."""
    match = _DURATION.fullmatch(text.strip())
    if match:
        return now - float(match.group(1)) * _UNIT_S[match.group(2)]
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            "expected a duration (30s, 10m, 2h, 1d) or an ISO time", param_hint="--since"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.timestamp()


@dataclass
class LogCursor:
    """Which lines of a followed log are new.

    A request's lines are stored together when it ends, but its START line carries the time it
    started: so each poll looks back ``lookback`` seconds (the function's timeout, and some) from
    the newest line seen, and prints only lines of requests it has not printed yet."""

    start: float
    lookback: float
    newest: float = 0.0
    seen: dict[str, float] = field(default_factory=dict)  # request id -> its newest line

    def query_start(self) -> float:
        return max(self.start, self.newest - self.lookback)

    def take(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        new = [e for e in events if e["requestId"] not in self.seen]
        for e in events:
            self.seen[e["requestId"]] = max(self.seen.get(e["requestId"], 0.0), e["timestamp"])
            self.newest = max(self.newest, e["timestamp"])
        # A request whose every line is older than the next query's start cannot come back.
        horizon = self.query_start()
        self.seen = {rid: ts for rid, ts in self.seen.items() if ts >= horizon}
        return new


def _fetch_logs(
    remote: Remote, name: str, start: float, request_id: str | None, limit: int
) -> list[dict[str, Any]]:
    query = {"start": repr(start), "limit": str(limit)}
    if request_id:
        query["request_id"] = request_id
    path = f"/_gureum/functions/{urllib.parse.quote(name, safe='')}/logs"
    events: list[dict[str, Any]] = remote.get_json(path, query)["events"]
    return events


def _print_events(events: list[dict[str, Any]], as_json: bool) -> None:
    for e in events:
        if as_json:
            typer.echo(json.dumps(e))
            continue
        moment = datetime.datetime.fromtimestamp(e["timestamp"]).astimezone()
        typer.echo(f"{moment.isoformat(timespec='milliseconds')} {e['message']}")


def logs(
    name: Name,
    since: Annotated[
        str, typer.Option(help="From how long ago (30s, 10m, 2h, 1d) or an ISO time.")
    ] = "10m",
    request_id: Annotated[str | None, typer.Option(help="Only this request's lines.")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines (Ctrl-C stops).")
    ] = False,
    limit: Annotated[
        int, typer.Option(min=1, help="At most this many lines, oldest first.")
    ] = 1000,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print a function's log lines: START, its output, END and REPORT of each request."""
    start = parse_since(since, time.time())
    remote = connect(endpoint, profile)
    with reporting_errors(endpoint):
        if not follow:
            _print_events(_fetch_logs(remote, name, start, request_id, limit), as_json)
            return
        timeout = remote.lambda_client().get_function_configuration(FunctionName=name)["Timeout"]
        cursor = LogCursor(start, lookback=timeout + 10)
        page = limit
        warned = False
        try:
            while True:
                events = _fetch_logs(remote, name, cursor.query_start(), request_id, page)
                _print_events(cursor.take(events), as_json)
                if len(events) == page == FOLLOW_PAGE and not warned:
                    err.print(f"[yellow]warning[/yellow]: over {page} lines a poll; some skipped")
                    warned = True
                page = FOLLOW_PAGE
                time.sleep(1)
        except KeyboardInterrupt:
            return


# --- ls and rm -------------------------------------------------------------------------------


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def _local_time(stamp: str) -> str:
    """Lambda's ``2024-01-01T12:00:00.000+0000``, shown in local time to the second."""
    try:
        moment = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return stamp
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def ls(
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """List the functions."""
    remote = connect(endpoint, profile)
    with reporting_errors(endpoint):
        pages = remote.lambda_client().get_paginator("list_functions").paginate()
        functions = [f for page in pages for f in page["Functions"]]
    if as_json:
        listed = [
            {
                "name": f["FunctionName"],
                "arn": f["FunctionArn"],
                "runtime": f.get("Runtime"),
                "handler": f.get("Handler"),
                "memorySize": f.get("MemorySize"),
                "timeout": f.get("Timeout"),
                "lastModified": f.get("LastModified"),
                "codeSize": f.get("CodeSize"),
                "description": f.get("Description", ""),
            }
            for f in functions
        ]
        typer.echo(json.dumps({"functions": listed}))
        return
    table = Table("name", "runtime", "memory", "timeout", "last modified", "code size", box=None)
    for f in functions:
        table.add_row(
            f["FunctionName"],
            f.get("Runtime", ""),
            f"{f.get('MemorySize', '')} MB",
            f"{f.get('Timeout', '')} s",
            _local_time(f.get("LastModified", "")),
            _size(f.get("CodeSize", 0)),
        )
    out.print(table)


def rm(
    name: Name,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
) -> None:
    """Delete a function (asks first, unless --yes or stdin is not a terminal)."""
    if not yes and sys.stdin.isatty() and not typer.confirm(f"Delete function {name}?"):
        _fail("not deleted")
    remote = connect(endpoint, profile)
    with reporting_errors(endpoint):
        remote.lambda_client().delete_function(FunctionName=name)
    typer.echo(f"deleted {name}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `gureum` command."""
    app.command()(deploy)
    app.command()(invoke)
    app.command()(logs)
    app.command()(ls)
    app.command()(rm)
