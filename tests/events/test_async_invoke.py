"""Asynchronous invocation in-process, on a manual clock: delivery, retries, destinations, DLQ."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gureum import Platform
from gureum.clock import ManualClock
from gureum.errors import InvalidParameterValueException, ResourceNotFoundException
from tests.conftest import Deploy

ECHO = """
def handler(event, context):
    print("GOT", context.aws_request_id)
    return event
"""
FAILS = """
def handler(event, context):
    raise ValueError("no good: " + str(event.get("n")))
"""
# Prints what it receives on one line, so a test can read back each record it got.
SINK = """
import json
def handler(event, context):
    print("RECORD " + json.dumps(event))
"""


def arn(platform: Platform, name: str) -> str:
    return platform.settings.engine.function_arn(name)


async def received(platform: Platform, name: str) -> list[Any]:
    lines = await platform.logs(name)
    return [
        json.loads(line.message.split("RECORD ", 1)[1])
        for line in lines
        if "RECORD " in line.message
    ]


async def attempts(platform: Platform, name: str) -> int:
    return (await platform.stats(name)).invocations


async def test_accepted_event_is_delivered_with_its_request_id(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy("echo", ECHO)
    request_id = await platform.invoke_async("echo", b'{"hello": 1}')
    await platform.events.delivery.drain()
    lines = await platform.logs("echo", request_id=request_id)
    assert any(f"GOT {request_id}" in line.message for line in lines)
    stats = await platform.events.stats("echo")
    assert (stats.depth, stats.succeeded, stats.failed, stats.retries) == (0, 1, 0, 0)


async def test_unknown_function_is_refused_at_accept(platform: Platform) -> None:
    with pytest.raises(ResourceNotFoundException):
        await platform.invoke_async("nobody", b"{}")


async def test_function_error_is_retried_after_the_delays_then_sent_to_on_failure(
    platform: Platform, deploy: Deploy, clock: ManualClock
) -> None:
    await deploy("fails", FAILS)
    await deploy("sink", SINK)
    await platform.events.put_config("fails", "$LATEST", on_failure=arn(platform, "sink"))
    request_id = await platform.invoke_async("fails", b'{"n": 7}')
    delivery = platform.events.delivery

    await delivery.drain()
    assert await attempts(platform, "fails") == 1
    clock.advance(59)  # Lambda's first retry comes after a minute, not before
    await delivery.drain()
    assert await attempts(platform, "fails") == 1
    stats = await platform.events.stats("fails")
    assert stats.depth == 1 and stats.retries == 1 and stats.oldest_age_s == 59

    clock.advance(1)
    await delivery.drain()
    assert await attempts(platform, "fails") == 2
    clock.advance(120)
    await delivery.drain()
    assert await attempts(platform, "fails") == 3
    await delivery.drain()  # the record to the sink
    assert await attempts(platform, "fails") == 3

    (record,) = await received(platform, "sink")
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": arn(platform, "fails") + ":$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"n": 7}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "no good: 7"
    stats = await platform.events.stats("fails")
    assert (stats.depth, stats.failed, stats.retries) == (0, 1, 2)


async def test_on_success_gets_the_result(platform: Platform, deploy: Deploy) -> None:
    await deploy("echo", ECHO)
    await deploy("sink", SINK)
    await platform.events.put_config("echo", "$LATEST", on_success=arn(platform, "sink"))
    request_id = await platform.invoke_async("echo", b'{"a": [1, 2]}')
    await platform.events.delivery.drain()
    (record,) = await received(platform, "sink")
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"a": [1, 2]}
    assert record["responsePayload"] == {"a": [1, 2]}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}


async def test_zero_retries_gives_up_at_once_and_the_dead_letter_target_gets_the_event(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy("sink", SINK)
    await deploy("fails", FAILS, dead_letter_arn=arn(platform, "sink"))
    await platform.events.put_config("fails", "$LATEST", max_retries=0)
    await platform.invoke_async("fails", b'{"n": 1, "payload": "original"}')
    await platform.events.delivery.drain()
    assert await attempts(platform, "fails") == 1
    # The dead-letter target receives the event itself, not a record.
    assert await received(platform, "sink") == [{"n": 1, "payload": "original"}]


async def test_throttled_event_backs_off_then_expires_past_its_maximum_age(
    platform: Platform, deploy: Deploy, clock: ManualClock
) -> None:
    await deploy("sink", SINK)
    await deploy("blocked", ECHO, reserved_concurrency=0)  # every invocation is throttled
    await platform.events.put_config(
        "blocked", "$LATEST", max_age_s=60, on_failure=arn(platform, "sink")
    )
    request_id = await platform.invoke_async("blocked", b'{"k": "v"}')
    delivery = platform.events.delivery
    await delivery.drain()
    for _ in range(5):  # backoff 1, 2, 4, 8, 16 s: still within the minute
        clock.advance(32)
        await delivery.drain()
        if (await platform.events.stats("blocked")).depth == 0:
            break
    (record,) = await received(platform, "sink")
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["requestId"] == request_id
    assert "responseContext" not in record
    assert await attempts(platform, "blocked") == 0
    stats = await platform.events.stats("blocked")
    assert stats.failed == 1 and stats.retries >= 1


async def test_invoke_config_validation(platform: Platform, deploy: Deploy) -> None:
    await deploy("echo", ECHO)
    events = platform.events
    with pytest.raises(InvalidParameterValueException, match="MaximumRetryAttempts"):
        await events.put_config("echo", "$LATEST", max_retries=3)
    with pytest.raises(InvalidParameterValueException, match="MaximumEventAgeInSeconds"):
        await events.put_config("echo", "$LATEST", max_age_s=59)
    with pytest.raises(InvalidParameterValueException, match=r"functions .* and queues"):
        await events.put_config(
            "echo", "$LATEST", on_failure="arn:aws:sns:us-east-1:000000000000:topic"
        )
    with pytest.raises(InvalidParameterValueException, match="another region"):
        await events.put_config(
            "echo", "$LATEST", on_failure="arn:aws:lambda:eu-west-1:000000000000:function:x"
        )
    with pytest.raises(ResourceNotFoundException, match="doesn't have an EventInvokeConfig"):
        events.get_config("echo", "$LATEST")


async def test_update_changes_only_what_is_given(platform: Platform, deploy: Deploy) -> None:
    await deploy("echo", ECHO)
    await deploy("sink", SINK)
    events = platform.events
    await events.put_config("echo", "$LATEST", max_retries=1, on_success=arn(platform, "sink"))
    updated = await events.update_config("echo", "$LATEST", max_age_s=100)
    assert (updated.max_retries, updated.max_age_s) == (1, 100)
    assert updated.on_success == arn(platform, "sink")
    replaced = await events.put_config("echo", "$LATEST", max_age_s=200)
    assert (replaced.max_retries, replaced.on_success) == (2, None)


async def test_deleting_a_function_drops_its_queue_and_settings(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy("blocked", ECHO, reserved_concurrency=0)
    await platform.events.put_config("blocked", "$LATEST", max_retries=1)
    await platform.invoke_async("blocked", b"{}")
    await platform.events.delivery.drain()
    assert (await platform.events.stats("blocked")).depth == 1
    await platform.functions.delete("blocked")
    assert (await platform.events.stats("blocked")).depth == 0
    assert platform.events.list_configs("blocked") == []
