"""Functions calling gureum's own APIs from inside their sandbox, as functions call AWS's inside
Lambda: the platform's boto3, ``AWS_ENDPOINT_URL`` through the relay, and the function's own
short-lived credentials, on a real `gureum serve`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from gureum.store.keys import KeyStore
from tests.conftest import CAN_ISOLATE
from tests.gateway.conftest import Server, code, create, start_server, unique
from tests.gateway.test_auth import lambda_client

# Importing boto3 takes a CPU's worth of time: at 128 MB (a 14th of a CPU) it would time out.
ROOMY = {"MemorySize": 1024, "Timeout": 60}

CALLER = code(
    """
    import os, socket
    import boto3

    def handler(event, context):
        lam = boto3.client("lambda")
        names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
        host, port = event["host_port"]
        try:
            socket.create_connection((host, port), timeout=2).close()
            direct = "reached"
        except OSError:
            direct = "unreachable"
        return {
            "names": names,
            "endpoint": os.environ["AWS_ENDPOINT_URL"],
            "boto3": boto3.__file__,
            "direct": direct,
            "key": os.environ["AWS_ACCESS_KEY_ID"],
            "has_token": bool(os.environ.get("AWS_SESSION_TOKEN")),
        }
    """
)


def host_port(server: Server) -> list[Any]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return [host, int(port)]


def test_a_function_calls_the_lambda_api_with_the_platforms_boto3(lam: Any, server: Server) -> None:
    name = unique("caller")
    create(lam, name, CALLER, **ROOMY)
    reply = lam.invoke(FunctionName=name, Payload=json.dumps({"host_port": host_port(server)}))
    result = json.loads(reply["Payload"].read())
    assert "FunctionError" not in reply, result
    assert name in result["names"]
    assert result["key"].startswith("ASIA") and result["has_token"]
    if CAN_ISOLATE:  # `full`: no network but the relay on the sandbox's own loopback
        assert result["endpoint"] == "http://127.0.0.1:9000"
        assert result["boto3"] == "/var/runtime/packages/boto3/__init__.py"
        assert result["direct"] == "unreachable"
    else:  # `rootless` has no network either; `process` gets the server's own address
        assert result["endpoint"] in ("http://127.0.0.1:9000", server.url)


SNAP_CALLER = code(
    """
    import time
    import boto3

    lam = boto3.client("lambda")  # made at init, in the snapshot: used after each restore

    def handler(event, context):
        time.sleep(event["hold"])  # so that concurrent invokes need forks of their own
        return len(lam.list_functions()["Functions"])
    """
)


def test_a_client_made_at_init_works_in_every_snapstart_fork(lam: Any) -> None:
    name = unique("snap")
    create(lam, name, SNAP_CALLER, SnapStart={"ApplyOn": "PublishedVersions"}, **ROOMY)
    version = lam.publish_version(FunctionName=name)["Version"]

    def invoke(_: int) -> tuple[bool, Any]:
        reply = lam.invoke(FunctionName=name, Qualifier=version, Payload=b'{"hold": 0.5}')
        return "FunctionError" in reply, json.loads(reply["Payload"].read())

    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(invoke, range(3)))
    assert all(not failed and count >= 1 for failed, count in replies), replies


@pytest.fixture
def signed_server(tmp_path: Path) -> Iterator[tuple[Server, str, str]]:
    data_dir = tmp_path / "data"
    with KeyStore(data_dir) as keys:
        key_id, secret = keys.create("deployer")
    running = start_server(data_dir, "--auth", "sigv4")
    try:
        yield running, key_id, secret
    finally:
        running.stop()


def test_the_functions_own_credentials_pass_sigv4(
    signed_server: tuple[Server, str, str],
) -> None:
    server, key_id, secret = signed_server
    lam = lambda_client(server.url, key_id, secret)
    name = unique("signed")
    create(lam, name, CALLER, **ROOMY)
    reply = lam.invoke(FunctionName=name, Payload=json.dumps({"host_port": host_port(server)}))
    result = json.loads(reply["Payload"].read())
    assert "FunctionError" not in reply, result
    # Signed with a key the server issued to the function, not one from `gureum keys create`.
    assert result["key"] != key_id and name in result["names"]
    lam.close()
