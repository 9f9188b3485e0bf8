"""The Lambda API over HTTP, driven by the real boto3 client against a real `gureum serve`."""

from __future__ import annotations

import base64
import json
import signal
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.gateway.conftest import ECHO, Server, code, create, error_of, start_server, unique

# uvicorn shuts down gracefully on SIGTERM, then re-raises it: the exit status says "terminated".
GRACEFUL = -signal.SIGTERM


def test_health_reports_the_isolation_level(server: Server) -> None:
    health = httpx.get(f"{server.url}/health").json()
    assert health["status"] == "ok"
    assert health["isolation"] in {"full", "rootless", "process"}
    assert server.banner[1] == f"isolation: {health['isolation']}"


def test_create_get_list_delete_round_trip(lam: Any) -> None:
    name = unique()
    created = create(
        lam,
        name,
        MemorySize=256,
        Timeout=7,
        Description="d",
        Environment={"Variables": {"KEY": "V"}},
    )
    assert created["FunctionName"] == name
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert created["MemorySize"] == 256 and created["Timeout"] == 7
    assert created["Environment"] == {"Variables": {"KEY": "V"}}
    assert created["State"] == "Active" and created["LastUpdateStatus"] == "Successful"
    assert created["Version"] == "$LATEST"
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201

    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["CodeSha256"] == created["CodeSha256"]
    assert got["Configuration"]["RevisionId"] == created["RevisionId"]
    assert (
        lam.get_function_configuration(FunctionName=created["FunctionArn"])["Handler"]
        == "app.handler"
    )
    assert name in [f["FunctionName"] for f in lam.list_functions(MaxItems=10000)["Functions"]]

    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    assert lam.delete_function(FunctionName=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as excinfo:
        lam.get_function(FunctionName=name)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_code_sha256_is_base64_of_the_zip_digest(lam: Any) -> None:
    import hashlib

    created = create(lam, unique())
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(ECHO).digest()).decode()
    assert created["CodeSize"] == len(ECHO)


def test_invoke_returns_payload_logs_and_version(lam: Any) -> None:
    name = unique()
    create(lam, name)
    response = lam.invoke(FunctionName=name, Payload=b'{"a": [1, 2]}', LogType="Tail")
    assert response["StatusCode"] == 200
    assert json.loads(response["Payload"].read()) == {"a": [1, 2]}
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    log = base64.b64decode(response["LogResult"]).decode()
    assert "echoing" in log and log.startswith("START RequestId: ") and "REPORT RequestId: " in log


def test_invoke_function_error_sets_the_header(lam: Any) -> None:
    name = unique()
    create(lam, name, code("def handler(event, context):\n    raise ValueError('boom')\n"))
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "boom"


def test_invoke_with_plain_http_post(server: Server, lam: Any) -> None:
    name = unique()
    create(lam, name)
    reply = httpx.post(f"{server.url}/2015-03-31/functions/{name}/invocations", content=b'{"x": 1}')
    assert reply.status_code == 200
    assert reply.json() == {"x": 1}
    assert reply.headers["x-amz-executed-version"] == "$LATEST"


def test_invoke_dry_run_and_event(lam: Any) -> None:
    name = unique()
    create(lam, name)
    assert lam.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202


def test_invoke_payload_over_6_mb_is_refused(lam: Any) -> None:
    name = unique()
    create(lam, name)
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=name, Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert error_of(excinfo)[:2] == ("RequestTooLargeException", 413)


def test_invoke_of_a_missing_function_or_qualifier(lam: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName="no-such-function", Payload=b"{}")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    name = unique()
    create(lam, name)
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=name, Qualifier="7", Payload=b"{}")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_duplicate_create_is_a_conflict(lam: Any) -> None:
    name = unique()
    create(lam, name)
    with pytest.raises(ClientError) as excinfo:
        create(lam, name)
    assert error_of(excinfo)[:2] == ("ResourceConflictException", 409)


def test_invalid_settings_name_the_field(lam: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        create(lam, unique(), MemorySize=20000)
    code_, status, message = error_of(excinfo)
    assert (code_, status) == ("InvalidParameterValueException", 400)
    assert "memorySize" in message


def test_update_code_and_configuration(lam: Any) -> None:
    name = unique()
    created = create(lam, name)
    updated = lam.update_function_code(
        FunctionName=name, ZipFile=code("def handler(e, c):\n    return 'v2'\n")
    )
    assert updated["CodeSha256"] != created["CodeSha256"]
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "v2"

    configured = lam.update_function_configuration(
        FunctionName=name, MemorySize=512, Environment={"Variables": {"AA": "1"}}
    )
    assert configured["MemorySize"] == 512 and configured["Environment"] == {
        "Variables": {"AA": "1"}
    }
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName=name, Timeout=5, RevisionId="stale")
    assert error_of(excinfo)[:2] == ("PreconditionFailedException", 412)


def test_list_functions_paginates(lam: Any) -> None:
    names = {unique("page") for _ in range(5)}
    for name in names:
        create(lam, name)
    seen = []
    for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
    assert names <= set(seen)
    assert len(seen) == len(set(seen))


def test_function_concurrency(lam: Any) -> None:
    name = unique()
    create(lam, name)
    assert (
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)[
            "ReservedConcurrentExecutions"
        ]
        == 0
    )
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 0
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert error_of(excinfo)[:2] == ("TooManyRequestsException", 429)
    assert excinfo.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    lam.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    assert lam.invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200


def test_account_settings(lam: Any) -> None:
    settings = lam.get_account_settings()
    assert settings["AccountLimit"]["CodeSizeZipped"] == 50 * 1024 * 1024
    assert settings["AccountUsage"]["FunctionCount"] >= 0


def test_malformed_json_body_is_a_clear_400(server: Server) -> None:
    reply = httpx.post(f"{server.url}/2015-03-31/functions", content=b"{not json")
    assert reply.status_code == 400
    assert reply.headers["x-amzn-errortype"] == "InvalidRequestContentException"
    assert "json" in reply.json()["message"]


def test_wrong_types_are_a_clear_400(server: Server) -> None:
    body = {
        "FunctionName": unique(),
        "Runtime": "python3.11",
        "Handler": "app.handler",
        "Role": "r",
        "MemorySize": "big",
        "Code": {"ZipFile": base64.b64encode(ECHO).decode()},
    }
    reply = httpx.post(f"{server.url}/2015-03-31/functions", json=body)
    assert reply.status_code == 400
    assert "MemorySize" in reply.json()["message"]


def test_unknown_path_is_a_404_in_lambdas_error_shape(server: Server) -> None:
    reply = httpx.get(f"{server.url}/2015-03-31/nothing-here")
    assert reply.status_code == 404
    assert reply.headers["x-amzn-errortype"] == "UnknownOperationException"


def test_functions_survive_a_restart(tmp_path: Any) -> None:
    first = start_server(tmp_path / "data")
    try:
        create(first.client(), "persisted")
    finally:
        assert first.stop() == GRACEFUL
    second = start_server(tmp_path / "data")
    try:
        response = second.client().invoke(FunctionName="persisted", Payload=b'{"again": true}')
        assert json.loads(response["Payload"].read()) == {"again": True}
    finally:
        assert second.stop() == GRACEFUL


def test_client_context_must_be_base64_json(lam: Any) -> None:
    name = unique()
    create(lam, name, code("def handler(e, c):\n    return c.client_context.custom\n"))
    good = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    response = lam.invoke(FunctionName=name, Payload=b"{}", ClientContext=good)
    assert json.loads(response["Payload"].read()) == {"k": "v"}
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=name, Payload=b"{}", ClientContext="not base64 !")
    assert error_of(excinfo)[:2] == ("InvalidRequestContentException", 400)
    # The warm instance was never troubled by it.
    again = lam.invoke(FunctionName=name, Payload=b"{}", ClientContext=good)
    assert "FunctionError" not in again


def test_get_function_hands_out_a_url_to_the_code(server: Server, lam: Any) -> None:
    name = unique()
    create(lam, name)
    location = lam.get_function(FunctionName=name)["Code"]["Location"]
    assert location.startswith(server.url + "/")
    assert "?" not in location  # without auth, a plain URL: nothing to sign it with
    assert httpx.get(location).content == ECHO
