"""Bad input over raw HTTP against a real `gureum serve`.

Every refusal is a 4xx in Lambda's error shape (status, ``x-amzn-ErrorType``, a JSON body with a
message that says what was wrong), never a 500, and the server is none the worse for any of it.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.gateway.conftest import ECHO, Server, create, unique

FUNCTIONS = "/2015-03-31/functions"
MB = 1024 * 1024


def refused(reply: httpx.Response, status: int, error_type: str) -> str:
    """Assert Lambda's error shape; returns the message."""
    assert reply.status_code == status, reply.text
    assert reply.headers.get("x-amzn-errortype") == error_type, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert body["Type"] == "User"
    message = body["message"]
    assert isinstance(message, str) and message
    return message


def create_body(name: str | None = None, **members: Any) -> dict[str, Any]:
    body = {
        "FunctionName": name or unique("bad"),
        "Runtime": f"python{sys.version_info.major}.{sys.version_info.minor}",
        "Handler": "app.handler",
        "Role": "arn:aws:iam::000000000000:role/lambda",
        "Code": {"ZipFile": base64.b64encode(ECHO).decode()},
    }
    body.update(members)
    return body


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def echo(lam: Any) -> str:
    """A function that returns its event, for the invoke cases."""
    name = unique("echo")
    create(lam, name)
    return name


# -- request bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="malformed"),
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(b"null", id="null"),
        pytest.param(b'"a string"', id="string"),
        pytest.param(b'{"FunctionName": "\xff"}', id="not-utf8"),
        # Python's parser recurses: without care, this is a RecursionError and a 500.
        pytest.param(b"[" * 100_000, id="deeply-nested"),
    ],
)
def test_a_body_that_is_not_a_json_object(http: httpx.Client, body: bytes) -> None:
    message = refused(http.post(FUNCTIONS, content=body), 400, "InvalidRequestContentException")
    assert "json" in message.lower()


@pytest.mark.parametrize(
    ("member", "value", "named"),
    [
        ("MemorySize", "big", "MemorySize"),
        ("Timeout", True, "Timeout"),
        ("Timeout", 2.5, "Timeout"),
        ("Environment", ["KEY=V"], "Environment"),
        ("Environment", {"Variables": {"KEY": 1}}, "Environment.Variables"),
        ("Layers", "arn:aws:lambda:us-east-1:000000000000:layer:x:1", "Layers"),
        ("Code", {"ZipFile": "not base64 !"}, "ZipFile"),
    ],
)
def test_a_member_of_the_wrong_type_is_named(
    http: httpx.Client, member: str, value: Any, named: str
) -> None:
    reply = http.post(FUNCTIONS, json=create_body(**{member: value}))
    assert named in refused(reply, 400, "InvalidRequestContentException")


def test_unknown_members_are_ignored(http: httpx.Client) -> None:
    # Lambda's rest-json parser skips members its model does not know, at any depth.
    name = unique("bad")
    body = create_body(
        name,
        Bogus={"x": 1},
        Code={"ZipFile": base64.b64encode(ECHO).decode(), "Extra": "x"},
        Environment={"Variables": {"KEY": "V"}, "Other": 1},
    )
    reply = http.post(FUNCTIONS, json=body)
    assert reply.status_code == 201, reply.text
    assert reply.json()["Environment"] == {"Variables": {"KEY": "V"}}
    stored = http.get(f"{FUNCTIONS}/{name}")
    assert stored.status_code == 200
    assert stored.json()["Configuration"]["Environment"] == {"Variables": {"KEY": "V"}}
    assert "Bogus" not in stored.text and "Extra" not in stored.text


@pytest.mark.parametrize(
    ("path", "body", "member"),
    [
        (
            FUNCTIONS,
            {k: v for k, v in create_body().items() if k != "FunctionName"},
            "functionname",
        ),
        (FUNCTIONS, create_body() | {"FunctionName": None}, "functionname"),
        (f"{FUNCTIONS}/{{echo}}/aliases", {"Name": "live"}, "functionversion"),
        (f"{FUNCTIONS}/{{echo}}/aliases", {"FunctionVersion": "1"}, "name"),
    ],
    ids=["no-function-name", "null-function-name", "alias-without-version", "alias-without-name"],
)
def test_a_missing_required_member_is_a_400(
    http: httpx.Client, echo: str, path: str, body: dict[str, Any], member: str
) -> None:
    reply = http.post(path.format(echo=echo), json=body)
    assert member in refused(reply, 400, "InvalidParameterValueException").lower()


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


def test_an_oversized_body_is_refused_while_streaming(http: httpx.Client, server: Server) -> None:
    pid = server.process.pid
    # Writing 5 to clear_refs resets the peak resident set size (Linux 4.0+).
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = _peak_rss_kb(pid)
    total = 300 * MB

    def chunks() -> Iterator[bytes]:
        # A generator: sent chunked, with no Content-Length the server could refuse up front.
        chunk = b"x" * MB
        for _ in range(total // MB):
            yield chunk

    reply = http.post(FUNCTIONS, content=chunks())
    assert "smaller than" in refused(reply, 413, "RequestEntityTooLargeException")
    # Reading up to the 70 MB limit is fine; holding the whole 300 MB is not.
    grown_mb = (_peak_rss_kb(pid) - before) / 1024
    assert grown_mb < 150, f"the server's peak memory grew by {grown_mb:.0f} MB"


# -- invoke ------------------------------------------------------------------------------------


def _invoke(http: httpx.Client, name: str, payload: bytes, **headers: str) -> httpx.Response:
    return http.post(
        f"{FUNCTIONS}/{quote(name, safe=':')}/invocations", content=payload, headers=headers
    )


def test_a_sync_payload_over_6_mb_is_too_large(http: httpx.Client, echo: str) -> None:
    payload = b'"' + b"x" * (6 * MB) + b'"'
    message = refused(_invoke(http, echo, payload), 413, "RequestTooLargeException")
    assert str(6 * MB) in message


def test_an_event_payload_over_1_mb_is_too_large(http: httpx.Client, echo: str) -> None:
    payload = b'"' + b"x" * MB + b'"'
    reply = _invoke(http, echo, payload, **{"X-Amz-Invocation-Type": "Event"})
    assert str(MB) in refused(reply, 413, "RequestTooLargeException")


def test_an_invoke_payload_that_is_not_json_is_refused_with_400(
    http: httpx.Client, echo: str
) -> None:
    # As Lambda answers; the runtime finds it out, since gureum never decodes payloads on the
    # host (docs/decisions/0005).
    reply = _invoke(http, echo, b"not json")
    message = refused(reply, 400, "InvalidRequestContentException")
    assert message.startswith("Could not parse request body into json: ")
    assert "Expecting value" in message  # what was wrong with it
    # The instance that found it out stays warm and serves the next request.
    good = _invoke(http, echo, b'{"ok": true}')
    assert good.status_code == 200
    assert good.json() == {"ok": True}


@pytest.mark.parametrize(
    ("header", "value", "error_type", "says"),
    [
        ("X-Amz-Invocation-Type", "Bogus", "InvalidParameterValueException", "bogus"),
        ("X-Amz-Log-Type", "Bogus", "InvalidParameterValueException", "bogus"),
        ("X-Amz-Client-Context", "not base64 !", "InvalidRequestContentException", "base64"),
        # Base64, but of a JSON array: the client context must be an object.
        (
            "X-Amz-Client-Context",
            base64.b64encode(b"[1]").decode(),
            "InvalidRequestContentException",
            "object",
        ),
    ],
)
def test_a_bad_invoke_header_is_a_400(
    http: httpx.Client, echo: str, header: str, value: str, error_type: str, says: str
) -> None:
    message = refused(_invoke(http, echo, b"{}", **{header: value}), 400, error_type)
    assert says in message.lower()


# -- names, ARNs and qualifiers ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("a" * 65, id="too-long"),
        pytest.param("bad name!", id="bad-characters"),
        pytest.param("dotted.name", id="dot"),
    ],
)
def test_create_refuses_an_invalid_name(http: httpx.Client, name: str) -> None:
    reply = http.post(FUNCTIONS, json=create_body(name))
    assert "functionName" in refused(reply, 400, "InvalidParameterValueException")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("a" * 257, id="too-long"),
        pytest.param("bad name!", id="bad-characters"),
        pytest.param("arn:aws:lambda:us-east-1:000000000000:layer:shared:1", id="layer-arn"),
        pytest.param("arn:aws:s3:::bucket", id="s3-arn"),
    ],
)
def test_get_and_invoke_refuse_an_invalid_name(http: httpx.Client, name: str) -> None:
    refused(http.get(f"{FUNCTIONS}/{quote(name, safe=':')}"), 400, "InvalidParameterValueException")
    refused(_invoke(http, name, b"{}"), 400, "InvalidParameterValueException")


def test_a_well_formed_name_that_does_not_exist_is_not_found(http: httpx.Client) -> None:
    assert "no-such-function" in refused(
        http.get(f"{FUNCTIONS}/no-such-function"), 404, "ResourceNotFoundException"
    )


def test_an_arn_of_another_region_is_not_reachable(http: httpx.Client, echo: str) -> None:
    # Even though a function of that name exists here, in us-east-1.
    arn = f"arn:aws:lambda:eu-west-1:000000000000:function:{echo}"
    message = refused(http.get(f"{FUNCTIONS}/{arn}"), 404, "ResourceNotFoundException")
    assert "eu-west-1" in message
    refused(_invoke(http, arn, b"{}"), 404, "ResourceNotFoundException")


@pytest.mark.parametrize(
    "qualifier",
    [pytest.param("bad qual!", id="bad-characters"), pytest.param("q" * 129, id="too-long")],
)
def test_an_invalid_qualifier_is_a_400(http: httpx.Client, echo: str, qualifier: str) -> None:
    params = {"Qualifier": qualifier}
    reply = http.get(f"{FUNCTIONS}/{echo}", params=params)
    assert "qualifier" in refused(reply, 400, "InvalidParameterValueException").lower()
    reply = http.post(f"{FUNCTIONS}/{echo}/invocations", params=params, content=b"{}")
    refused(reply, 400, "InvalidParameterValueException")


def test_a_missing_qualifier_is_not_found(http: httpx.Client, echo: str) -> None:
    reply = http.get(f"{FUNCTIONS}/{echo}", params={"Qualifier": "nope"})
    refused(reply, 404, "ResourceNotFoundException")


def test_a_qualifier_that_contradicts_the_name_is_a_400(http: httpx.Client, echo: str) -> None:
    reply = http.get(f"{FUNCTIONS}/{echo}:1", params={"Qualifier": "2"})
    message = refused(reply, 400, "InvalidParameterValueException")
    assert "qualifier" in message


# -- routes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    # (An unsigned path outside the Lambda API's, such as /nothing, is S3's: a bucket.)
    [
        ("GET", "/2015-03-31/nothing-here"),
        ("POST", f"{FUNCTIONS}/x/no-such-action"),
    ],
)
def test_an_unknown_path_is_a_404(http: httpx.Client, method: str, path: str) -> None:
    refused(http.request(method, path), 404, "UnknownOperationException")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", f"{FUNCTIONS}/{{echo}}/invocations"),
        ("DELETE", FUNCTIONS),
        ("PATCH", f"{FUNCTIONS}/{{echo}}"),
        ("OPTIONS", f"{FUNCTIONS}/{{echo}}"),
    ],
)
def test_a_wrong_method_on_a_known_path_is_refused_in_lambdas_shape(
    http: httpx.Client, echo: str, method: str, path: str
) -> None:
    reply = http.request(method, path.format(echo=echo))
    assert reply.status_code in (404, 405), reply.text
    assert "x-amzn-errortype" in reply.headers, f"{reply.status_code} {reply.text!r}"
    refused(reply, reply.status_code, reply.headers["x-amzn-errortype"])


# -- pagination --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_items", "error_type"),
    [
        ("0", "InvalidParameterValueException"),
        ("20000", "InvalidParameterValueException"),
        ("-1", "InvalidParameterValueException"),
        ("many", "InvalidRequestContentException"),
    ],
)
def test_list_functions_refuses_a_bad_max_items(
    http: httpx.Client, max_items: str, error_type: str
) -> None:
    refused(http.get(FUNCTIONS, params={"MaxItems": max_items}), 400, error_type)


@pytest.mark.parametrize("max_items", ["0", "-1", "20000"])
def test_list_versions_refuses_a_bad_max_items(
    http: httpx.Client, echo: str, max_items: str
) -> None:
    # A page size of 0 would hand back an empty page and a marker that never advances.
    reply = http.get(f"{FUNCTIONS}/{echo}/versions", params={"MaxItems": max_items})
    refused(reply, 400, "InvalidParameterValueException")


# -- and after all that ------------------------------------------------------------------------


def test_the_server_is_still_healthy(http: httpx.Client, echo: str) -> None:
    assert http.get("/health").json()["status"] == "ok"
    reply = _invoke(http, echo, b'{"still": "here"}')
    assert reply.status_code == 200
    assert reply.json() == {"still": "here"}
    assert "x-amz-function-error" not in reply.headers
    assert http.get(f"{FUNCTIONS}/{echo}").json()["Configuration"]["State"] == "Active"
