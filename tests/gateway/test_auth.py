"""SigV4 on a real `gureum serve --auth sigv4`, with real boto3 clients and keys from the store."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from gureum.clock import ManualClock
from gureum.gateway.auth import (
    SIGNATURE_MISMATCH,
    Claim,
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    check_time,
    read_claim,
)
from gureum.gateway.signed_urls import UrlSigner
from gureum.store.keys import KeyStore
from tests.gateway.conftest import ECHO, Server, create, error_of, start_server, unique


def lambda_client(url: str, key_id: str, secret: str) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, read_timeout=60),
    )


class SignedAt(SigV4Auth):  # type: ignore[misc]
    """botocore's signer with the clock set by the test (its add_auth reads the real one)."""

    def __init__(self, key_id: str, secret: str, when: datetime.datetime) -> None:
        super().__init__(Credentials(key_id, secret), "lambda", "us-east-1")
        self.when = when

    def add_auth(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self.when.strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        signature = self.signature(self.string_to_sign(request, canonical), request)
        self._inject_signature_to_request(request, signature)


def signed(
    url: str,
    key_id: str,
    secret: str,
    body: bytes,
    when: datetime.datetime | None = None,
    method: str = "POST",
) -> dict[str, str]:
    """The headers botocore sends for this request: sign, then send them with httpx."""
    request = AWSRequest(
        method=method, url=url, data=body, headers={"Content-Type": "application/json"}
    )
    SignedAt(key_id, secret, when or datetime.datetime.now(datetime.UTC)).add_auth(request)
    return dict(request.headers.items())


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("auth") / "data"


@pytest.fixture(scope="module")
def key(data_dir: Path) -> tuple[str, str]:
    # Created before the server starts, by the store the server itself will open.
    with KeyStore(data_dir) as keys:
        return keys.create("tests")


@pytest.fixture(scope="module")
def signed_server(data_dir: Path, key: tuple[str, str]) -> Iterator[Server]:
    running = start_server(data_dir, "--auth", "sigv4")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()


@pytest.fixture(scope="module")
def lam(signed_server: Server, key: tuple[str, str]) -> Any:
    return lambda_client(signed_server.url, *key)


@pytest.fixture(scope="module")
def echo(lam: Any) -> str:
    name = unique("auth")
    create(lam, name)
    return name


def invoke_url(server: Server, name: str) -> str:
    return f"{server.url}/2015-03-31/functions/{name}/invocations"


def test_banner_says_requests_must_be_signed(signed_server: Server) -> None:
    assert signed_server.banner[3].startswith("auth: sigv4")


def test_a_signed_client_creates_and_invokes(lam: Any, echo: str) -> None:
    result = lam.invoke(FunctionName=echo, Payload=b'{"hello": "signed"}')
    assert result["StatusCode"] == 200
    assert json.loads(result["Payload"].read()) == {"hello": "signed"}
    assert lam.get_function(FunctionName=echo)["Configuration"]["FunctionName"] == echo


def test_a_large_signed_body_reaches_the_function_unchanged(lam: Any, echo: str) -> None:
    # Over uvicorn's read size, so the body arrives in several ASGI messages and is replayed.
    event = {"blob": "x" * 1_000_000, "n": 1}
    result = lam.invoke(FunctionName=echo, Payload=json.dumps(event).encode())
    assert json.loads(result["Payload"].read()) == event


def test_a_wrong_secret_is_an_invalid_signature(
    signed_server: Server, key: tuple[str, str], echo: str
) -> None:
    wrong = lambda_client(signed_server.url, key[0], "x" * 40)
    with pytest.raises(ClientError) as excinfo:
        wrong.invoke(FunctionName=echo, Payload=b"{}")
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidSignatureException", 403)
    assert message.startswith("The request signature we calculated does not match")


def test_an_unknown_key_is_unrecognized(signed_server: Server) -> None:
    stranger = lambda_client(signed_server.url, "GKIAAAAAAAAAAAAAAAAA", "x" * 40)
    with pytest.raises(ClientError) as excinfo:
        stranger.list_functions()
    assert error_of(excinfo) == (
        "UnrecognizedClientException",
        403,
        "The security token included in the request is invalid.",
    )


def test_no_signature_is_a_missing_token(signed_server: Server, echo: str) -> None:
    response = httpx.post(invoke_url(signed_server, echo), content=b"{}")
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert response.json()["message"] == "Missing Authentication Token"


def test_a_malformed_authorization_is_an_incomplete_signature(
    signed_server: Server, echo: str
) -> None:
    response = httpx.post(
        invoke_url(signed_server, echo),
        content=b"{}",
        headers={"Authorization": "AWS4-HMAC-SHA256 Credential=GKIA/x"},
    )
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"


def test_a_body_changed_after_signing_is_refused(
    signed_server: Server, key: tuple[str, str], echo: str
) -> None:
    url = invoke_url(signed_server, echo)
    headers = signed(url, *key, b'{"amount": 1}')
    assert httpx.post(url, content=b'{"amount": 1}', headers=headers).status_code == 200
    response = httpx.post(url, content=b'{"amount": 9}', headers=headers)
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


def test_a_payload_hash_header_must_match_the_body(
    signed_server: Server, key: tuple[str, str], echo: str
) -> None:
    # botocore signs x-amz-content-sha256 in place of the body, so the server checks it.
    url = invoke_url(signed_server, echo)
    request = AWSRequest(method="POST", url=url, data=b'{"amount": 1}')
    request.headers["X-Amz-Content-SHA256"] = (
        "d6b4cd4e0f7cd8ac0f1b2e1a7fb2a6c96e3f7a6f7b8c7a6f7b8c7a6f7b8c7a6f"
    )
    SignedAt(*key, datetime.datetime.now(datetime.UTC)).add_auth(request)
    response = httpx.post(url, content=b'{"amount": 1}', headers=dict(request.headers.items()))
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


@pytest.mark.parametrize(
    ("offset", "words"),
    [(-20 * 60, "Signature expired"), (20 * 60, "Signature not yet current")],
)
def test_a_request_time_15_minutes_away_is_refused(
    signed_server: Server, key: tuple[str, str], echo: str, offset: int, words: str
) -> None:
    url = invoke_url(signed_server, echo)
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=offset)
    response = httpx.post(url, content=b"{}", headers=signed(url, *key, b"{}", when))
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert response.json()["message"].startswith(words)


def test_health_needs_no_signature(signed_server: Server) -> None:
    response = httpx.get(f"{signed_server.url}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    # Only GET /health is open: gureum's own endpoints are not.
    assert httpx.get(f"{signed_server.url}/_gureum/code/{'0' * 64}").status_code == 403


def test_a_presigned_url_works_until_tampered_with(lam: Any, echo: str) -> None:
    url = lam.generate_presigned_url("get_function", Params={"FunctionName": echo}, ExpiresIn=60)
    response = httpx.get(url)
    assert response.status_code == 200, response.text
    assert response.json()["Configuration"]["FunctionName"] == echo
    other = url.replace(f"/functions/{echo}", "/functions/other")
    refused = httpx.get(other)
    assert refused.status_code == 403
    assert refused.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


def test_the_code_location_is_a_link_a_plain_get_fetches(
    lam: Any, key: tuple[str, str], echo: str
) -> None:
    location = lam.get_function(FunctionName=echo)["Code"]["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query["X-Amz-Expires"] == ["600"]  # Lambda's 10 minutes
    assert query["X-Amz-Credential"][0].startswith(f"{key[0]}/")
    with urllib.request.urlopen(location) as response:
        assert response.read() == ECHO


def _refusal(url: str) -> tuple[int, str, str]:
    with pytest.raises(HTTPError) as excinfo:
        urllib.request.urlopen(url)
    with excinfo.value as error:
        return error.code, error.headers["x-amzn-ErrorType"], json.loads(error.read())["message"]


def test_a_tampered_code_location_is_refused(lam: Any, echo: str) -> None:
    location = lam.get_function(FunctionName=echo)["Code"]["Location"]
    path = urlsplit(location).path
    other = location.replace(path, path[:-1] + ("0" if path[-1] != "0" else "1"))
    assert _refusal(other) == (403, "InvalidSignatureException", SIGNATURE_MISMATCH)
    longer = location.replace("X-Amz-Expires=600", "X-Amz-Expires=6000")
    assert _refusal(longer) == (403, "InvalidSignatureException", SIGNATURE_MISMATCH)


def test_an_expired_code_location_is_refused(lam: Any, key: tuple[str, str], echo: str) -> None:
    plain = lam.get_function(FunctionName=echo)["Code"]["Location"].partition("?")[0]
    # Signed as the server signs it, 601 s ago (the expiry at the exact second: test_signed_urls).
    then = ManualClock(time.time() - 601)
    expired = UrlSigner(*key, "us-east-1", "lambda", then).sign(plain, 600)
    status, error_type, message = _refusal(expired)
    assert (status, error_type) == (403, "InvalidSignatureException")
    assert message.startswith("Signature expired: ")


def test_a_new_key_works_and_a_deleted_key_stops_working_without_a_restart(
    signed_server: Server,
) -> None:
    # Another process's store, as `gureum keys create|delete` would be.
    with KeyStore(signed_server.data_dir) as cli:
        key_id, secret = cli.create("short-lived")
        client = lambda_client(signed_server.url, key_id, secret)
        assert "Functions" in _eventually(client.list_functions, expect_error=None)
        cli.delete(key_id)
        assert _eventually(client.list_functions, expect_error="UnrecognizedClientException")


def _eventually(call: Any, expect_error: str | None, within_s: float = 5.0) -> Any:
    """``call()`` once the server has seen the change (it re-reads keys at most once a second)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            result = call()
            if expect_error is None:
                return result
        except ClientError as error:
            if error.response["Error"]["Code"] == expect_error:
                return True
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"still no {expect_error} after {within_s} s")
        time.sleep(0.1)


def test_a_deleted_key_is_refused_after_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with KeyStore(data_dir) as store:
        key_id, secret = store.create()
        server = start_server(data_dir, "--auth", "sigv4")
        try:
            assert "Functions" in lambda_client(server.url, key_id, secret).list_functions()
        finally:
            server.stop()
        store.delete(key_id)
    server = start_server(data_dir, "--auth", "sigv4")
    try:
        assert server.banner[3] == (
            "auth: sigv4 (no access keys yet: create one with `gureum keys create`)"
        )
        with pytest.raises(ClientError) as excinfo:
            lambda_client(server.url, key_id, secret).list_functions()
        assert error_of(excinfo)[:2] == ("UnrecognizedClientException", 403)
    finally:
        server.stop()


def test_without_auth_on_loopback_any_credentials_work(server: Server) -> None:
    assert server.banner[3] == "auth: none (loopback only: any credentials are accepted)"
    client = lambda_client(server.url, "anything", "at all")
    assert "Functions" in client.list_functions()
    assert httpx.post(f"{server.url}/2015-03-31/functions/nope/invocations").status_code == 404


def _serve(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gureum", "serve", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_binding_beyond_loopback_without_auth_is_refused(tmp_path: Path) -> None:
    done = _serve("--host", "0.0.0.0", "--port", "0", "--auth", "none", data_dir=tmp_path)
    assert done.returncode == 2
    assert "--auth none is refused on 0.0.0.0" in done.stderr
    assert "--auth sigv4" in done.stderr


def test_an_unknown_auth_mode_is_a_usage_error(tmp_path: Path) -> None:
    done = _serve("--port", "0", "--auth", "basic", data_dir=tmp_path)
    assert done.returncode == 2
    assert "--auth" in done.stderr


# In-process: the parts of the check that need neither a server nor a key.


def test_read_claim_without_any_signature() -> None:
    with pytest.raises(MissingAuthenticationTokenException):
        read_claim({"host": "h"}, "Qualifier=1")


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=ab",
        "AWS4-HMAC-SHA256 Credential=K/20240101/us-east-1/lambda/aws4_request, Signature=ab",
        "AWS4-HMAC-SHA256 Credential=K/20240101/lambda/aws4_request, SignedHeaders=host, "
        "Signature=ab",
        "AWS4-HMAC-SHA256 Credential=K/20240101/us-east-1/lambda/aws4_request, "
        "SignedHeaders=x-amz-date, Signature=ab",
        "AWS AKIA:abc",
    ],
)
def test_read_claim_refuses_a_malformed_header(authorization: str) -> None:
    headers = {"host": "h", "x-amz-date": "20240101T000000Z", "authorization": authorization}
    with pytest.raises(IncompleteSignatureException):
        read_claim(headers, "")


def test_read_claim_needs_a_date() -> None:
    headers = {
        "host": "h",
        "authorization": "AWS4-HMAC-SHA256 Credential=K/20240101/us-east-1/lambda/aws4_request,"
        " SignedHeaders=host, Signature=ab",
    }
    with pytest.raises(IncompleteSignatureException, match="X-Amz-Date"):
        read_claim(headers, "")


def _claim(timestamp: str, expires_s: int | None = None) -> Claim:
    return Claim(
        "K", timestamp[:8], "us-east-1", "lambda", ("host",), "ab", timestamp, expires_s, ""
    )


def test_check_time_allows_15_minutes_either_way() -> None:
    now = datetime.datetime(2024, 1, 1, 12, 0, tzinfo=datetime.UTC).timestamp()
    check_time(_claim("20240101T114500Z"), now)
    check_time(_claim("20240101T121500Z"), now)
    with pytest.raises(InvalidSignatureException, match="Signature expired: 20240101T114459Z"):
        check_time(_claim("20240101T114459Z"), now)
    with pytest.raises(InvalidSignatureException, match="not yet current"):
        check_time(_claim("20240101T121501Z"), now)


def test_check_time_lets_a_presigned_url_live_its_expiry() -> None:
    now = datetime.datetime(2024, 1, 1, 12, 0, tzinfo=datetime.UTC).timestamp()
    check_time(_claim("20240101T110000Z", expires_s=3600), now)
    with pytest.raises(InvalidSignatureException, match="Signature expired"):
        check_time(_claim("20240101T105959Z", expires_s=3600), now)
