"""SnapStart through the Lambda API: ApplyOn on the function, the snapshot on its versions."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.gateway.conftest import code, create, unique

SLOW_INIT = code(
    "import time\n"
    "time.sleep(0.2)\n"
    "def handler(event, context):\n"
    "    time.sleep(event.get('sleep', 0))\n"
    "    return context.function_version\n"
)


def test_published_versions_of_a_snapstart_function_fork_from_a_snapshot(lam: Any) -> None:
    name = unique()
    created = create(lam, name, SLOW_INIT, SnapStart={"ApplyOn": "PublishedVersions"})
    assert created["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    version = lam.publish_version(FunctionName=name)["Version"]
    config = lam.get_function_configuration(FunctionName=name, Qualifier=version)
    assert config["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}

    def invoke(_: int) -> dict[str, Any]:
        reply = lam.invoke(
            FunctionName=name, Qualifier=version, Payload=b'{"sleep": 0.3}', LogType="Tail"
        )
        return {"payload": json.loads(reply["Payload"].read()), "log": reply["LogResult"]}

    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(invoke, range(3)))
    for reply in replies:
        assert reply["payload"] == version
        report = base64.b64decode(reply["log"]).decode().splitlines()[-1]
        assert report.startswith("REPORT RequestId: ")
    reports = [base64.b64decode(r["log"]).decode().splitlines()[-1] for r in replies]
    assert all("Restore Duration: " in r and "Init Duration" not in r for r in reports)


def test_snapstart_can_be_turned_off_and_bad_values_are_refused(lam: Any) -> None:
    name = unique()
    create(lam, name, SLOW_INIT, SnapStart={"ApplyOn": "PublishedVersions"})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    updated = lam.update_function_configuration(FunctionName=name, SnapStart={"ApplyOn": "None"})
    assert updated["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    with pytest.raises(ClientError) as refused:
        lam.update_function_configuration(FunctionName=name, SnapStart={"ApplyOn": "Always"})
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_function_stats_show_cold_starts_init_restore_and_waiting(lam: Any, server: Any) -> None:
    name = unique()
    create(lam, name, SLOW_INIT, SnapStart={"ApplyOn": "PublishedVersions"})
    lam.invoke(FunctionName=name, Payload=b"{}")  # $LATEST: a plain cold start
    lam.invoke(FunctionName=name, Payload=b"{}")  # warm
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.invoke(FunctionName=name, Qualifier=version, Payload=b"{}")  # restored from a snapshot
    stats = httpx.get(f"{server.url}/_gureum/functions/{name}/stats").json()
    assert stats["invocations"] == 3
    assert stats["cold_starts"] == 2
    assert stats["init_duration_avg_ms"] >= 200  # the init sleeps 0.2 s
    assert stats["restore_duration_avg_ms"] > 0
    assert stats["instance_wait_avg_ms"] > 0
    missing = httpx.get(f"{server.url}/_gureum/functions/{unique()}/stats")
    assert missing.status_code == 404
    assert missing.headers["x-amzn-errortype"] == "ResourceNotFoundException"


THREADED_INIT = code(
    "import threading, time\n"
    "threading.Thread(target=time.sleep, args=(3600,), name='poller', daemon=True).start()\n"
    "def handler(event, context):\n"
    "    return [t.name for t in threading.enumerate()]\n"
)


def test_threads_started_in_init_are_named_in_the_log(lam: Any, server: Any) -> None:
    name = unique()
    create(lam, name, THREADED_INIT, SnapStart={"ApplyOn": "PublishedVersions"})
    version = lam.publish_version(FunctionName=name)["Version"]
    reply = lam.invoke(FunctionName=name, Qualifier=version, Payload=b"{}")
    # A fork has only the thread that forked: the poller is not in the restored instance.
    assert "poller" not in json.loads(reply["Payload"].read())
    logs = httpx.get(f"{server.url}/_gureum/functions/{name}/logs").json()["events"]
    warnings = [e["message"] for e in logs if e["message"].startswith("SnapStart: ")]
    assert warnings and "(poller)" in warnings[0], logs
