"""Asynchronous invocation through the Lambda API with boto3, and its durability across kill -9."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.gateway.conftest import (
    ECHO,
    Server,
    code,
    create,
    error_of,
    start_server,
    unique,
)

ACCOUNT_ARN = "arn:aws:lambda:us-east-1:000000000000:function:"


def test_event_invoke_answers_202_with_the_request_id(lam: Any) -> None:
    name = unique()
    create(lam, name)
    reply = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"x": 1}')
    assert reply["StatusCode"] == 202
    assert len(reply["ResponseMetadata"]["RequestId"]) == 36


def test_event_invoke_of_an_unknown_function_is_404(lam: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName="no-such-fn", InvocationType="Event", Payload=b"{}")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_event_payload_over_1_mb_is_413(lam: Any) -> None:
    name = unique()
    create(lam, name)
    payload = b'"' + b"x" * (1024 * 1024) + b'"'
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=payload)
    assert error_of(excinfo)[:2] == ("RequestTooLargeException", 413)


def test_event_invoke_config_lifecycle(lam: Any) -> None:
    name, sink = unique(), unique("sink")
    create(lam, name)
    create(lam, sink)
    with pytest.raises(ClientError) as excinfo:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)

    put = lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": ACCOUNT_ARN + sink}},
    )
    assert put["FunctionArn"] == f"{ACCOUNT_ARN}{name}:$LATEST"
    assert put["MaximumRetryAttempts"] == 1
    assert "MaximumEventAgeInSeconds" not in put
    assert put["DestinationConfig"]["OnFailure"] == {"Destination": ACCOUNT_ARN + sink}

    updated = lam.update_function_event_invoke_config(
        FunctionName=name, MaximumEventAgeInSeconds=3600
    )
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (1, 3600)
    assert updated["DestinationConfig"]["OnFailure"] == {"Destination": ACCOUNT_ARN + sink}
    got = lam.get_function_event_invoke_config(FunctionName=name, Qualifier="$LATEST")
    assert got["MaximumEventAgeInSeconds"] == 3600

    listed = lam.list_function_event_invoke_configs(FunctionName=name)
    assert [c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]] == [
        f"{ACCOUNT_ARN}{name}:$LATEST"
    ]
    lam.delete_function_event_invoke_config(FunctionName=name)
    assert (
        lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
        == []
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"MaximumRetryAttempts": 3}, "MaximumRetryAttempts"),
        ({"MaximumEventAgeInSeconds": 30000}, "MaximumEventAgeInSeconds"),
        (
            {"DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:sns:us-east-1:0:t"}}},
            "not supported",
        ),
    ],
)
def test_event_invoke_config_errors(lam: Any, settings: dict[str, Any], message: str) -> None:
    name = unique()
    create(lam, name)
    with pytest.raises(ClientError) as excinfo:
        lam.put_function_event_invoke_config(FunctionName=name, **settings)
    code_, status, text = error_of(excinfo)
    assert status == 400 and message.lower() in text.lower(), (code_, text)


def test_event_invoke_config_of_a_missing_version_is_404(lam: Any) -> None:
    name = unique()
    create(lam, name)
    with pytest.raises(ClientError) as excinfo:
        lam.put_function_event_invoke_config(FunctionName=name, Qualifier="7")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_dead_letter_config_is_kept_and_shown(lam: Any) -> None:
    name, sink = unique(), unique("sink")
    create(lam, sink)
    created = create(lam, name, DeadLetterConfig={"TargetArn": ACCOUNT_ARN + sink})
    assert created["DeadLetterConfig"] == {"TargetArn": ACCOUNT_ARN + sink}
    cleared = lam.update_function_configuration(FunctionName=name, DeadLetterConfig={})
    assert "DeadLetterConfig" not in cleared


def test_async_queue_figures_are_in_the_stats(lam: Any, server: Server) -> None:
    name = unique()
    create(lam, name, ECHO)
    stats = httpx.get(f"{server.url}/_gureum/functions/{name}/stats").json()
    assert stats["async"] == {
        "depth": 0,
        "oldest_age_s": None,
        "retries": 0,
        "succeeded": 0,
        "failed": 0,
        "dropped": 0,
    }


# -- nothing accepted is lost, whenever the server dies --------------------------------------

RECORDER = code(
    """
    import os, time
    def handler(event, context):
        time.sleep(0.01)  # so that some are mid-delivery when the server is killed
        with open(os.environ["DELIVERIES"], "a") as log:
            log.write(event["id"] + "\\n")
    """
)


@pytest.fixture
def process_server(tmp_path: Path) -> Iterator[Server]:
    # `process` isolation: the recorder function writes to this test's folder on the host.
    running = start_server(tmp_path / "data", "--isolation", "process")
    try:
        yield running
    finally:
        running.release()


def test_every_accepted_event_is_delivered_after_kill_9(
    process_server: Server, tmp_path: Path
) -> None:
    deliveries = tmp_path / "deliveries.log"
    lam = process_server.client()
    create(lam, "recorder", RECORDER, Environment={"Variables": {"DELIVERIES": str(deliveries)}})

    accepted: list[str] = []
    lock = threading.Lock()
    kill_after = 150

    def send(worker: int) -> None:
        client = process_server.client(connect_timeout=2)
        for n in range(100):
            event_id = f"{worker}-{n}"
            try:
                client.invoke(
                    FunctionName="recorder",
                    InvocationType="Event",
                    Payload=json.dumps({"id": event_id}).encode(),
                )
            except Exception:
                return  # the server is gone: what was not acknowledged need not arrive
            with lock:
                accepted.append(event_id)
                if len(accepted) == kill_after:
                    os.kill(process_server.process.pid, signal.SIGKILL)

    senders = [threading.Thread(target=send, args=(w,)) for w in range(6)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    assert process_server.process.wait(timeout=30) == -signal.SIGKILL
    assert len(accepted) >= kill_after

    restarted = start_server(process_server.data_dir, "--isolation", "process")
    try:
        stats_url = f"{restarted.url}/_gureum/functions/recorder/stats"
        deadline = time.monotonic() + 120
        while httpx.get(stats_url).json()["async"]["depth"] > 0:
            assert time.monotonic() < deadline, "the queue did not drain after the restart"
            time.sleep(0.1)  # polling an external process's progress, not synchronising
    finally:
        restarted.stop()
    delivered = deliveries.read_text().split()
    missing = set(accepted) - set(delivered)
    assert not missing, f"{len(missing)} accepted events never delivered: {sorted(missing)[:5]}"
