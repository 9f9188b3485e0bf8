"""The basic contract: echo, context, environment, warm reuse, logs and metering."""

from __future__ import annotations

import contextlib
import json
import sqlite3

from gureum import Platform
from tests.conftest import Deploy

ECHO = """
    def handler(event, context):
        return event
"""


async def test_echo_returns_the_payload_unchanged(platform: Platform, deploy: Deploy) -> None:
    await deploy("echo", ECHO)
    payload = json.dumps({"a": 1, "nested": {"b": [1, 2, "x"]}, "unicode": "구름"}).encode()
    result = await platform.invoke("echo", payload)
    assert result.function_error is None
    assert json.loads(result.payload) == json.loads(payload)
    assert result.executed_version == "$LATEST"


async def test_empty_payload_is_an_empty_event(platform: Platform, deploy: Deploy) -> None:
    await deploy("echo", ECHO)
    result = await platform.invoke("echo", b"")
    assert json.loads(result.payload) == {}


async def test_context_has_lambdas_attributes(platform: Platform, deploy: Deploy) -> None:
    await deploy(
        "ctx",
        """
        def handler(event, context):
            return {
                "request_id": context.aws_request_id,
                "name": context.function_name,
                "version": context.function_version,
                "arn": context.invoked_function_arn,
                "memory": context.memory_limit_in_mb,
                "group": context.log_group_name,
                "stream": context.log_stream_name,
                "remaining": context.get_remaining_time_in_millis(),
                "identity": context.identity.cognito_identity_id,
                "client_context": context.client_context,
            }
        """,
        memory_mb=256,
        timeout_s=7,
    )
    result = await platform.invoke("ctx", b"{}")
    got = json.loads(result.payload)
    assert got["request_id"] == result.request_id
    assert got["name"] == "ctx"
    assert got["version"] == "$LATEST"
    assert got["arn"] == "arn:aws:lambda:us-east-1:000000000000:function:ctx"
    assert got["memory"] == "256"
    assert got["group"] == "/aws/lambda/ctx"
    assert "[$LATEST]" in got["stream"]
    assert 0 < got["remaining"] <= 7000
    assert got["identity"] is None
    assert got["client_context"] is None


async def test_client_context_and_identity_reach_the_handler(
    platform: Platform, deploy: Deploy
) -> None:
    import base64

    from gureum import InvokeOptions

    await deploy(
        "ctx",
        """
        def handler(event, context):
            cc = context.client_context
            return {"custom": cc.custom, "app": cc.client.app_title,
                    "identity": context.identity.cognito_identity_id}
        """,
    )
    encoded = base64.b64encode(
        json.dumps({"custom": {"k": "v"}, "client": {"app_title": "demo"}}).encode()
    ).decode()
    options = InvokeOptions(client_context=encoded, identity={"cognitoIdentityId": "id-1"})
    result = await platform.invoke("ctx", b"{}", options)
    assert json.loads(result.payload) == {"custom": {"k": "v"}, "app": "demo", "identity": "id-1"}


async def test_environment_has_reserved_and_user_variables_only(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy(
        "env",
        """
        import os
        def handler(event, context):
            return dict(os.environ)
        """,
        env={"GREETING": "annyeong"},
        memory_mb=512,
    )
    env = json.loads((await platform.invoke("env", b"{}")).payload)
    assert env["GREETING"] == "annyeong"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "env"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["_HANDLER"] == "app.handler"
    assert env["TZ"] == ":UTC"
    assert env["LANG"] == "en_US.UTF-8"
    assert "PATH" in env and "LAMBDA_TASK_ROOT" in env
    # Nothing of the platform's own environment: the test runner's variables stay outside.
    assert "PYTEST_CURRENT_TEST" not in env
    assert "HOME" not in env


async def test_warm_instance_is_reused_and_init_runs_once(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy(
        "counter",
        """
        import os
        INITS = [os.getpid()]
        calls = 0
        def handler(event, context):
            global calls
            calls += 1
            return {"calls": calls, "inits": len(INITS)}
        """,
    )
    results = [await platform.invoke("counter", b"{}") for _ in range(3)]
    assert [json.loads(r.payload) for r in results] == [
        {"calls": 1, "inits": 1},
        {"calls": 2, "inits": 1},
        {"calls": 3, "inits": 1},
    ]
    assert [r.cold_start for r in results] == [True, False, False]
    assert results[0].init_duration_ms is not None
    assert results[1].init_duration_ms is None
    assert len(platform.engine.instances("counter")) == 1


async def test_dotted_handler_in_a_package(platform: Platform, deploy: Deploy) -> None:
    await deploy(
        "pkg",
        {
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "",
            "pkg/sub/mod.py": "def run(event, context):\n    return 'deep'\n",
        },
        handler="pkg.sub.mod.run",
    )
    assert json.loads((await platform.invoke("pkg", b"{}")).payload) == "deep"


async def test_logs_have_start_output_end_report(platform: Platform, deploy: Deploy) -> None:
    await deploy(
        "talk",
        """
        import logging, sys
        logger = logging.getLogger()
        logger.setLevel(logging.INFO)
        def handler(event, context):
            print("printed line")
            sys.stderr.write("to stderr\\n")
            logger.info("logged line")
            return 1
        """,
    )
    result = await platform.invoke("talk", b"{}")
    lines = result.logs.splitlines()
    rid = result.request_id
    assert lines[0] == f"START RequestId: {rid} Version: $LATEST"
    assert "printed line" in lines
    assert "to stderr" in lines
    assert any(
        line.startswith("[INFO]") and rid in line and "logged line" in line for line in lines
    )
    assert lines[-2] == f"END RequestId: {rid}"
    assert lines[-1].startswith(f"REPORT RequestId: {rid}\tDuration: ")
    assert "Billed Duration: " in lines[-1] and "Memory Size: 128 MB" in lines[-1]
    assert "Init Duration: " in lines[-1]

    stored = await platform.logs("talk", request_id=rid)
    assert [line.message for line in stored] == lines
    # Stored: the record and one row of output. START is at the start, the rest at the end.
    assert stored[0].timestamp == result.record.timestamp
    assert {line.timestamp for line in stored[1:]} == {result.record.end_time}


async def test_an_invocation_that_prints_nothing_stores_no_log_row(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy("echo", ECHO)
    first, second = [await platform.invoke("echo", b"{}") for _ in range(2)]
    assert first.output == second.output == ""
    assert second.logs.splitlines() == [
        f"START RequestId: {second.request_id} Version: $LATEST",
        f"END RequestId: {second.request_id}",
        second.record.report_line(),
    ]
    for result in (first, second):
        stored = await platform.logs("echo", request_id=result.request_id)  # flushes first
        assert [line.message for line in stored] == result.logs.splitlines()
    with contextlib.closing(sqlite3.connect(platform.data_dir / "telemetry.db")) as conn:
        assert conn.execute("SELECT COUNT(*) FROM logs").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM invocations").fetchone() == (2,)


async def test_metering_bills_whole_milliseconds_at_list_price(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy("echo", ECHO, memory_mb=1024)
    result = await platform.invoke("echo", b"{}")
    assert result.billed_duration_ms >= 1
    assert result.billed_duration_ms >= result.duration_ms
    assert result.billed_duration_ms - result.duration_ms < 1
    expected = 0.20 / 1_000_000 + 1.0 * result.billed_duration_ms / 1000 * 0.0000166667
    assert abs(result.cost_usd - expected) < 1e-12
    stats = await platform.stats("echo")
    assert stats.invocations == 1 and stats.cold_starts == 1 and stats.errors == 0
    assert abs(stats.cost_usd - result.cost_usd) < 1e-12
