"""Standard queues in-process, through the Python interface event source mappings use, on a
manual clock: visibility timeouts, delays, retention, redrive, long polling, durability."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3

import pytest

from gureum.clock import ManualClock
from gureum.services.queues import (
    InvalidParameterValue,
    MessageNotInflight,
    NewMessage,
    QueueDoesNotExist,
    QueueError,
    QueueNameExists,
    Queues,
    ReceiptHandleIsInvalid,
)
from gureum.services.queues.errors import InvalidAttributeName, InvalidAttributeValue
from tests.services.queues.conftest import Reopen


def counts(queues: Queues, name: str) -> tuple[int, int, int]:
    """(visible, in flight, delayed), as GetQueueAttributes shows them."""
    attributes = queues.queue_attributes(name)
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        int(attributes["ApproximateNumberOfMessagesDelayed"]),
    )


async def until_waiting(queues: Queues, name: str, waiters: int = 1) -> None:
    """Let the event loop run until ``waiters`` receives wait on the queue: each task gets
    there within a few turns of the loop (no timing involved)."""
    for _ in range(100):
        if queues.waiters(name) >= waiters:
            return
        await asyncio.sleep(0)  # one turn of the event loop
    raise AssertionError(f"{queues.waiters(name)} of {waiters} receives are waiting")


async def test_send_receive_delete(queues: Queues, clock: ManualClock) -> None:
    await queues.create("jobs")
    attributes = {"kind": {"DataType": "String", "StringValue": "thumbnail"}}
    message_id = await queues.send("jobs", "hello", attributes=attributes)
    assert queues.depth("jobs") == 1

    [message] = await queues.receive("jobs", 10)
    assert message.message_id == message_id
    assert message.body == "hello"
    assert message.md5_of_body == "5d41402abc4b2a76b9719d911017c592"
    assert message.message_attributes == attributes
    assert message.md5_of_message_attributes is not None
    sent_ms = str(int(clock.time() * 1000))
    assert message.attributes == {
        "SenderId": "000000000000",
        "SentTimestamp": sent_ms,
        "ApproximateReceiveCount": "1",
        "ApproximateFirstReceiveTimestamp": sent_ms,
    }
    assert counts(queues, "jobs") == (0, 1, 0)

    await queues.delete("jobs", message.receipt_handle)
    assert counts(queues, "jobs") == (0, 0, 0)
    clock.advance(3600)
    assert await queues.receive("jobs") == []
    # Deleting again is not an error (as SQS).
    await queues.delete("jobs", message.receipt_handle)


async def test_messages_come_in_send_order_up_to_the_maximum(queues: Queues) -> None:
    await queues.create("jobs")
    for n in range(15):
        await queues.send("jobs", f"m{n}")
    first = await queues.receive("jobs", 10)
    second = await queues.receive("jobs", 10)
    assert [m.body for m in first + second] == [f"m{n}" for n in range(15)]
    with pytest.raises(InvalidParameterValue):
        await queues.receive("jobs", 11)
    with pytest.raises(InvalidParameterValue):
        await queues.receive("jobs", 0)


async def test_a_received_message_is_hidden_for_the_visibility_timeout(
    queues: Queues, clock: ManualClock
) -> None:
    await queues.create("jobs", {"VisibilityTimeout": "30"})
    await queues.send("jobs", "work")
    [first] = await queues.receive("jobs")
    clock.advance(29.9)
    assert await queues.receive("jobs") == []
    clock.advance(0.1)
    assert counts(queues, "jobs") == (1, 0, 0)
    [again] = await queues.receive("jobs", visibility_timeout_s=5)
    assert again.message_id == first.message_id
    assert again.receipt_handle != first.receipt_handle
    assert again.attributes["ApproximateReceiveCount"] == "2"
    assert (
        again.attributes["ApproximateFirstReceiveTimestamp"]
        == first.attributes["ApproximateFirstReceiveTimestamp"]
    )
    clock.advance(5)
    [third] = await queues.receive("jobs", visibility_timeout_s=0)
    assert third.attributes["ApproximateReceiveCount"] == "3"
    assert queues.depth("jobs") == 1  # a visibility timeout of 0 leaves it visible


async def test_change_visibility(queues: Queues, clock: ManualClock) -> None:
    await queues.create("jobs", {"VisibilityTimeout": "10"})
    await queues.send("jobs", "work")
    [message] = await queues.receive("jobs")
    await queues.change_visibility("jobs", message.receipt_handle, 100)
    clock.advance(99)
    assert queues.depth("jobs") == 0
    await queues.change_visibility("jobs", message.receipt_handle, 0)
    assert queues.depth("jobs") == 1
    # Visible now: not in flight.
    with pytest.raises(MessageNotInflight):
        await queues.change_visibility("jobs", message.receipt_handle, 10)
    [again] = await queues.receive("jobs")
    # An older receive's handle has expired.
    with pytest.raises(InvalidParameterValue, match="expired"):
        await queues.change_visibility("jobs", message.receipt_handle, 10)
    with pytest.raises(InvalidParameterValue):
        await queues.change_visibility("jobs", again.receipt_handle, 43_201)
    await queues.delete("jobs", again.receipt_handle)
    with pytest.raises(InvalidParameterValue, match="does not exist"):
        await queues.change_visibility("jobs", again.receipt_handle, 10)


async def test_receipt_handles_belong_to_their_queue(queues: Queues) -> None:
    await queues.create("a")
    await queues.create("b")
    await queues.send("a", "x")
    [message] = await queues.receive("a")
    with pytest.raises(ReceiptHandleIsInvalid):
        await queues.delete("b", message.receipt_handle)
    with pytest.raises(ReceiptHandleIsInvalid):
        await queues.delete("a", "garbage")


async def test_delays_per_queue_and_per_message(queues: Queues, clock: ManualClock) -> None:
    await queues.create("later", {"DelaySeconds": "60"})
    await queues.send("later", "queue delay")
    await queues.send("later", "own delay", delay_s=5)
    await queues.send("later", "no delay", delay_s=0)
    assert counts(queues, "later") == (1, 0, 2)
    hidden = 3600  # received messages stay out of the way
    assert [m.body for m in await queues.receive("later", 10, visibility_timeout_s=hidden)] == [
        "no delay"
    ]
    clock.advance(5)
    assert [m.body for m in await queues.receive("later", 10, visibility_timeout_s=hidden)] == [
        "own delay"
    ]
    clock.advance(55)
    assert [m.body for m in await queues.receive("later", 10)] == ["queue delay"]
    with pytest.raises(InvalidParameterValue):
        await queues.send("later", "too late", delay_s=901)


async def test_messages_expire_after_the_retention_period(
    queues: Queues, clock: ManualClock, reopen: Reopen
) -> None:
    await queues.create("short", {"MessageRetentionPeriod": "60"})
    await queues.send("short", "old")
    await queues.receive("short", visibility_timeout_s=600)  # in flight expires too
    clock.advance(30)
    await queues.send("short", "newer")
    clock.advance(30)
    assert counts(queues, "short") == (1, 0, 0)
    # The expired message's row goes with the next write.
    await queues.create("other")
    with contextlib.closing(sqlite3.connect(queues.path)) as db:
        assert db.execute("SELECT body FROM messages").fetchall() == [("newer",)]
    reopened = await reopen()
    assert [m.body for m in await reopened.receive("short", 10)] == ["newer"]
    clock.advance(30)
    assert counts(reopened, "short") == (0, 0, 0)


async def test_a_shorter_retention_applies_at_once(queues: Queues, clock: ManualClock) -> None:
    await queues.create("q")
    await queues.send("q", "an hour old")
    clock.advance(3600)
    await queues.set_attributes("q", {"MessageRetentionPeriod": "600"})
    assert queues.depth("q") == 0


async def test_redrive_to_the_dead_letter_queue_after_max_receive_count(
    queues: Queues, clock: ManualClock
) -> None:
    await queues.create("dlq")
    policy = {"deadLetterTargetArn": queues.arn("dlq"), "maxReceiveCount": 2}
    await queues.create("work", {"RedrivePolicy": json.dumps(policy), "VisibilityTimeout": "10"})
    message_id = await queues.send("work", "poison")
    for receive_count in (1, 2):
        [message] = await queues.receive("work")
        assert message.attributes["ApproximateReceiveCount"] == str(receive_count)
        clock.advance(10)
    # The receive that would exceed maxReceiveCount moves the message instead.
    assert await queues.receive("work") == []
    assert counts(queues, "work") == (0, 0, 0)
    [dead] = await queues.receive("dlq", 10)
    assert dead.message_id == message_id
    assert dead.body == "poison"
    assert dead.attributes["DeadLetterQueueSourceArn"] == queues.arn("work")
    assert queues.dead_letter_sources("dlq") == ["work"]


async def test_redrive_keeps_what_is_left_for_the_other_messages(
    queues: Queues, clock: ManualClock
) -> None:
    await queues.create("dlq")
    policy = json.dumps({"deadLetterTargetArn": queues.arn("dlq"), "maxReceiveCount": "1"})
    await queues.create("work", {"RedrivePolicy": policy})
    await queues.send("work", "first")
    await queues.receive("work")
    clock.advance(30)
    await queues.send("work", "second")
    # "first" moves, "second" is delivered, in the same receive.
    assert [m.body for m in await queues.receive("work", 10)] == ["second"]
    assert [m.body for m in await queues.receive("dlq", 10)] == ["first"]


async def test_redrive_policy_is_checked(queues: Queues) -> None:
    await queues.create("work")
    await queues.create("dlq")

    def policy(**values: object) -> dict[str, str]:
        return {"RedrivePolicy": json.dumps(values)}

    for bad, reason in (
        (policy(deadLetterTargetArn=queues.arn("nowhere"), maxReceiveCount=3), "does not exist"),
        (policy(deadLetterTargetArn=queues.arn("work"), maxReceiveCount=3), "its own"),
        (policy(deadLetterTargetArn=queues.arn("dlq"), maxReceiveCount=0), "maxReceiveCount"),
        (policy(deadLetterTargetArn=queues.arn("dlq"), maxReceiveCount=1001), "maxReceiveCount"),
        (policy(maxReceiveCount=3), "deadLetterTargetArn"),
    ):
        with pytest.raises(InvalidParameterValue, match=reason):
            await queues.set_attributes("work", bad)
    await queues.create(
        "closed", {"RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})}
    )
    with pytest.raises(InvalidParameterValue, match="not allowed"):
        await queues.set_attributes(
            "work", policy(deadLetterTargetArn=queues.arn("closed"), maxReceiveCount=3)
        )
    # An empty RedrivePolicy removes it.
    await queues.set_attributes(
        "work", policy(deadLetterTargetArn=queues.arn("dlq"), maxReceiveCount=3)
    )
    assert "RedrivePolicy" in queues.queue_attributes("work")
    await queues.set_attributes("work", {"RedrivePolicy": ""})
    assert "RedrivePolicy" not in queues.queue_attributes("work")


async def test_a_deleted_dead_letter_queue_leaves_messages_where_they_are(
    queues: Queues, clock: ManualClock
) -> None:
    await queues.create("dlq")
    policy = json.dumps({"deadLetterTargetArn": queues.arn("dlq"), "maxReceiveCount": 1})
    await queues.create("work", {"RedrivePolicy": policy})
    await queues.send("work", "x")
    await queues.receive("work")
    await queues.delete_queue("dlq")
    clock.advance(30)
    [again] = await queues.receive("work")
    assert again.attributes["ApproximateReceiveCount"] == "2"


async def test_long_polling_is_woken_by_a_send(queues: Queues) -> None:
    await queues.create("jobs")
    receiving = asyncio.create_task(queues.receive("jobs", 10, wait_s=20))
    await until_waiting(queues, "jobs")
    message_id = await queues.send("jobs", "wake up")
    [message] = await receiving
    assert message.message_id == message_id
    assert queues.waiters("jobs") == 0


async def test_one_send_wakes_one_of_two_long_polls_and_the_other_keeps_waiting(
    queues: Queues,
) -> None:
    await queues.create("jobs")
    polls = [asyncio.create_task(queues.receive("jobs", wait_s=20)) for _ in range(2)]
    await until_waiting(queues, "jobs", 2)
    await queues.send("jobs", "one")
    done, pending = await asyncio.wait(polls, return_when=asyncio.FIRST_COMPLETED)
    [winner] = done
    assert [m.body for m in winner.result()] == ["one"]
    [other] = pending
    await until_waiting(queues, "jobs", 1)  # it went back to waiting
    await queues.send("jobs", "two")
    assert [m.body for m in await other] == ["two"]


async def test_a_long_poll_ends_empty_when_its_queue_is_deleted(queues: Queues) -> None:
    await queues.create("doomed")
    receiving = asyncio.create_task(queues.receive("doomed", wait_s=20))
    await until_waiting(queues, "doomed")
    await queues.delete_queue("doomed")
    assert await receiving == []


async def test_a_long_poll_without_messages_returns_empty(queues: Queues) -> None:
    await queues.create("quiet")
    assert await queues.receive("quiet", wait_s=0.05) == []


async def test_the_queue_default_wait_applies_when_none_is_given(queues: Queues) -> None:
    await queues.create("polled", {"ReceiveMessageWaitTimeSeconds": "20"})
    receiving = asyncio.create_task(queues.receive("polled", wait_s=None))
    await until_waiting(queues, "polled")
    await queues.send("polled", "x")
    assert [m.body for m in await receiving] == ["x"]


async def test_wait_for_messages_wakes_pollers(queues: Queues) -> None:
    await queues.create("polled")
    assert await queues.wait_for_messages("polled", 0) is False
    waiting = asyncio.create_task(queues.wait_for_messages("polled", 20))
    await until_waiting(queues, "polled")
    await queues.send("polled", "x")
    assert await waiting is True
    assert await queues.wait_for_messages("polled", 20) is True  # one is there already


async def test_acknowledged_changes_survive_a_reopen(
    queues: Queues, clock: ManualClock, reopen: Reopen
) -> None:
    await queues.create("jobs", {"VisibilityTimeout": "60"})
    for n in range(4):
        await queues.send("jobs", f"m{n}", delay_s=10 if n == 3 else None)
    received = await queues.receive("jobs", 2)
    await queues.delete("jobs", received[0].receipt_handle)

    reopened = await reopen()
    # m0 deleted, m1 still in flight, m2 visible, m3 delayed.
    assert counts(reopened, "jobs") == (1, 1, 1)
    clock.advance(60)
    again = await reopened.receive("jobs", 10)
    assert sorted(m.body for m in again) == ["m1", "m2", "m3"]
    m1 = next(m for m in again if m.body == "m1")
    assert m1.attributes["ApproximateReceiveCount"] == "2"
    # A handle from before the reopen still deletes, and new rows do not collide with old ones.
    await reopened.delete("jobs", m1.receipt_handle)
    await reopened.send("jobs", "after")
    clock.advance(60)
    assert sorted(m.body for m in await reopened.receive("jobs", 10)) == ["after", "m2", "m3"]


async def test_create_is_idempotent_with_the_same_attributes(queues: Queues) -> None:
    assert await queues.create("jobs", {"VisibilityTimeout": "45"}) is True
    assert await queues.create("jobs", {"VisibilityTimeout": "045"}) is False
    assert await queues.create("jobs") is False
    with pytest.raises(QueueNameExists, match="VisibilityTimeout"):
        await queues.create("jobs", {"VisibilityTimeout": "46"})


async def test_create_checks_names_and_attributes(queues: Queues) -> None:
    for name in ("", "has space", "x" * 81, "dot.ted"):
        with pytest.raises(InvalidParameterValue):
            await queues.create(name)
    with pytest.raises(InvalidAttributeName):
        await queues.create("q", {"Colour": "blue"})
    with pytest.raises(InvalidAttributeName):
        await queues.create("q", {"QueueArn": "arn:aws:sqs:us-east-1:000000000000:q"})
    with pytest.raises(InvalidAttributeName, match="KMS"):
        await queues.create("q", {"KmsMasterKeyId": "alias/aws/sqs"})
    for name, value in (
        ("VisibilityTimeout", "43201"),
        ("MessageRetentionPeriod", "59"),
        ("DelaySeconds", "x"),
        ("MaximumMessageSize", "1023"),
        ("ReceiveMessageWaitTimeSeconds", "21"),
    ):
        with pytest.raises(InvalidAttributeValue, match=name):
            await queues.create("q", {name: value})
    assert not queues.exists("q")


async def test_queue_attributes(queues: Queues, clock: ManualClock) -> None:
    await queues.create("jobs")
    created = queues.queue_attributes("jobs")
    assert created == {
        "QueueArn": "arn:aws:sqs:us-east-1:000000000000:jobs",
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
        "ApproximateNumberOfMessagesDelayed": "0",
        "CreatedTimestamp": str(int(clock.time())),
        "LastModifiedTimestamp": str(int(clock.time())),
        "DelaySeconds": "0",
        "MaximumMessageSize": "1048576",
        "MessageRetentionPeriod": "345600",
        "ReceiveMessageWaitTimeSeconds": "0",
        "VisibilityTimeout": "30",
        "SqsManagedSseEnabled": "true",
    }
    clock.advance(100)
    await queues.set_attributes("jobs", {"VisibilityTimeout": "5"})
    assert queues.queue_attributes("jobs", ["VisibilityTimeout", "LastModifiedTimestamp"]) == {
        "VisibilityTimeout": "5",
        "LastModifiedTimestamp": str(int(clock.time())),
    }
    with pytest.raises(InvalidAttributeName):
        queues.queue_attributes("jobs", ["Nope"])


async def test_purge_and_delete_queue(queues: Queues, reopen: Reopen) -> None:
    await queues.create("jobs")
    await queues.create("other")
    for n in range(3):
        await queues.send("jobs", f"m{n}")
    await queues.send("other", "stays")
    await queues.receive("jobs")
    await queues.purge("jobs")
    assert counts(queues, "jobs") == (0, 0, 0)
    await queues.delete_queue("other")
    with pytest.raises(QueueDoesNotExist):
        await queues.send("other", "x")
    reopened = await reopen()
    assert reopened.names() == ["jobs"]
    assert counts(reopened, "jobs") == (0, 0, 0)
    # A name can be used again at once.
    await reopened.create("other")
    assert reopened.depth("other") == 0


async def test_batch_send_reports_each_entry(queues: Queues) -> None:
    await queues.create("jobs", {"MaximumMessageSize": "1024"})
    results = await queues.send_messages(
        "jobs",
        [
            NewMessage("fine"),
            NewMessage("x" * 1025),
            NewMessage("bad \x00 char"),
            NewMessage("also fine", delay_s=1),
        ],
    )
    assert [type(r).__name__ for r in results] == [
        "SentMessage",
        "InvalidParameterValue",
        "InvalidMessageContents",
        "SentMessage",
    ]
    assert isinstance(results[1], QueueError) and "1024 bytes" in results[1].message
    assert counts(queues, "jobs") == (1, 0, 1)


async def test_arns_and_names(queues: Queues) -> None:
    await queues.create("jobs")
    arn = queues.arn("jobs")
    assert arn == "arn:aws:sqs:us-east-1:000000000000:jobs"
    assert queues.name_of_arn(arn) == "jobs"
    for unknown in (queues.arn("nope"), "arn:aws:sqs:eu-west-1:000000000000:jobs", "jobs"):
        with pytest.raises(QueueDoesNotExist):
            queues.name_of_arn(unknown)
    with pytest.raises(QueueDoesNotExist):
        queues.depth("nope")


async def test_tags(queues: Queues) -> None:
    await queues.create("jobs", tags={"team": "photos"})
    await queues.tag("jobs", {"env": "dev"})
    await queues.untag("jobs", ["team"])
    assert queues.tags("jobs") == {"env": "dev"}


async def test_closed_queues_refuse_work(queues: Queues) -> None:
    await queues.create("jobs")
    receiving = asyncio.create_task(queues.receive("jobs", wait_s=20))
    await until_waiting(queues, "jobs")
    await queues.aclose()
    assert await receiving == []
    with pytest.raises(QueueError):
        await queues.send("jobs", "late")
