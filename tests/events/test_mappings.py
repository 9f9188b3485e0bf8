"""Event source mappings in-process: a real queue's messages delivered to a real function in
batches, deleted when handled, left (and redriven) when not; the clock is a manual one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from gureum import Platform
from gureum.clock import ManualClock
from gureum.errors import InvalidParameterValueException, ResourceConflictException
from gureum.events.mappings import Mapping
from tests.conftest import CAN_ISOLATE, Deploy, deployer

RECORDS = """
import json
def handler(event, context):
    print("BATCH " + json.dumps(event))
    bodies = [r["body"] for r in event["Records"]]
    failed = [r["messageId"] for r in event["Records"] if r["body"].startswith("bad")]
    if "crash" in bodies:
        raise RuntimeError("crashed")
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
"""


async def batches(platform: Platform, name: str) -> list[dict[str, Any]]:
    lines = await platform.logs(name)
    return [json.loads(ln.message.split("BATCH ", 1)[1]) for ln in lines if "BATCH " in ln.message]


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait for pollers (real tasks) to get somewhere: checks a condition, bounded."""
    for _ in range(3000):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def mapping(platform: Platform, function: str, queue: str, **settings: Any) -> Mapping:
    return await platform.mappings.create(
        Mapping(
            uuid="",
            function=function,
            qualifier=None,
            source_arn=platform.queues.arn(queue),
            **settings,
        )
    )


def counts(platform: Platform, queue: str) -> tuple[int, int]:
    """(visible, in flight) messages."""
    attributes = platform.queues.queue_attributes(queue)
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


async def test_messages_arrive_as_lambdas_sqs_records_and_are_deleted(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy("consumer", RECORDS)
    await platform.queues.create("jobs")
    await mapping(platform, "consumer", "jobs", batch_size=10)
    attributes = {"kind": {"DataType": "String", "StringValue": "photo"}}
    await platform.queues.send("jobs", "first", attributes=attributes)

    async def handled() -> bool:
        return counts(platform, "jobs") == (0, 0) and bool(await batches(platform, "consumer"))

    await eventually(handled, "the message was handled and deleted")
    (batch,) = await batches(platform, "consumer")
    (record,) = batch["Records"]
    assert record["body"] == "first"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == platform.queues.arn("jobs")
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"] == {
        "kind": {
            "stringValue": "photo",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    }
    assert len(record["md5OfBody"]) == 32 and record["receiptHandle"]


async def test_a_failed_batch_comes_back_and_then_goes_to_the_dead_letter_queue(
    platform: Platform, deploy: Deploy, clock: ManualClock
) -> None:
    await deploy("consumer", RECORDS)
    await platform.queues.create("dead")
    policy = json.dumps({"deadLetterTargetArn": platform.queues.arn("dead"), "maxReceiveCount": 2})
    await platform.queues.create("jobs", {"VisibilityTimeout": "30", "RedrivePolicy": policy})
    await mapping(platform, "consumer", "jobs")
    await platform.queues.send("jobs", "crash")

    def received(n: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            in_flight = counts(platform, "jobs") == (0, 1)
            return in_flight and len(await batches(platform, "consumer")) == n

        return check

    await eventually(received(1), "the first delivery failed, the message in flight")
    clock.advance(30)  # its visibility timeout ends: it is received again
    platform.queues.clock_moved()
    await eventually(received(2), "the second delivery failed too")
    clock.advance(30)  # a third receive would exceed maxReceiveCount: it moves instead

    async def redriven() -> bool:
        return counts(platform, "dead") == (1, 0) and counts(platform, "jobs") == (0, 0)

    platform.queues.clock_moved()
    await eventually(redriven, "the message moved to the dead-letter queue")
    assert len(await batches(platform, "consumer")) == 2


async def test_report_batch_item_failures_keeps_only_the_failed_messages(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy("consumer", RECORDS)
    await platform.queues.create("jobs", {"VisibilityTimeout": "600"})
    await mapping(
        platform, "consumer", "jobs", batch_size=10, window_s=1,
        response_types=("ReportBatchItemFailures",),
    )  # fmt: skip
    for body in ("good-1", "bad-2", "good-3"):
        await platform.queues.send("jobs", body)

    async def settled() -> bool:
        delivered = sum(len(b["Records"]) for b in await batches(platform, "consumer"))
        return delivered == 3 and counts(platform, "jobs") == (0, 1)

    await eventually(settled, "two deleted, the bad one left in flight")


async def test_a_disabled_mapping_delivers_nothing_until_enabled_and_survives_a_restart(
    open_custom: Callable[..., Awaitable[Platform]],
) -> None:
    level = "full" if CAN_ISOLATE else "process"
    platform = await open_custom(level)
    try:
        await deployer(platform)("consumer", RECORDS)
        await platform.queues.create("jobs")
        made = await mapping(platform, "consumer", "jobs", enabled=False)
        await platform.queues.send("jobs", "waiting")
    finally:
        await platform.aclose()
    platform = await open_custom(level)
    try:
        assert platform.mappings.get(made.uuid).enabled is False
        assert counts(platform, "jobs") == (1, 0)
        await platform.mappings.update(Mapping(**{**_fields(made), "enabled": True}))

        async def handled() -> bool:
            return counts(platform, "jobs") == (0, 0)

        await eventually(handled, "the enabled mapping delivered the waiting message")
        assert [r["body"] for b in await batches(platform, "consumer") for r in b["Records"]] == [
            "waiting"
        ]
    finally:
        await platform.aclose()


def _fields(mapping: Mapping) -> dict[str, Any]:
    return {name: getattr(mapping, name) for name in Mapping.__dataclass_fields__}


async def test_mapping_validation(platform: Platform, deploy: Deploy) -> None:
    await deploy("consumer", RECORDS)
    await platform.queues.create("jobs")
    with pytest.raises(InvalidParameterValueException, match="BatchSize"):
        await mapping(platform, "consumer", "jobs", batch_size=0)
    with pytest.raises(InvalidParameterValueException, match="batch window"):
        await mapping(platform, "consumer", "jobs", batch_size=100)
    await mapping(platform, "consumer", "jobs")
    with pytest.raises(ResourceConflictException):
        await mapping(platform, "consumer", "jobs")
