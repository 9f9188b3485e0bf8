"""FIFO queues in-process: group order, one group's messages not overtaking each other, the
five-minute deduplication window, sequence numbers, and redrive."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3

import pytest

from gureum.clock import ManualClock
from gureum.services.queues import InvalidParameterValue, NewMessage, QueueError, Queues
from gureum.services.queues.errors import InvalidAttributeName, MissingParameter
from tests.services.queues.conftest import Reopen

FIFO = {"FifoQueue": "true"}


async def send(queues: Queues, name: str, body: str, group: str, dedup: str | None = None) -> str:
    [sent] = await queues.send_messages(
        name, [NewMessage(body, group_id=group, deduplication_id=dedup or body)]
    )
    assert not isinstance(sent, QueueError), sent
    return sent.message_id


async def bodies(queues: Queues, name: str, limit: int = 10, **options: int) -> list[str]:
    return [m.body for m in await queues.receive(name, limit, **options)]


async def test_a_group_waits_while_its_earlier_message_is_in_flight(queues: Queues) -> None:
    await queues.create("orders.fifo", FIFO)
    for body, group in (("a1", "a"), ("a2", "a"), ("b1", "b"), ("a3", "a")):
        await send(queues, "orders.fifo", body, group)
    assert await bodies(queues, "orders.fifo", 1) == ["a1"]
    # Group a is locked by a1: b1 comes next, then nothing.
    assert await bodies(queues, "orders.fifo", 1) == ["b1"]
    assert await bodies(queues, "orders.fifo") == []
    assert queues.depth("orders.fifo") == 2  # visible, but held back by their group


async def test_a_group_opens_when_its_message_is_deleted(queues: Queues) -> None:
    await queues.create("orders.fifo", FIFO)
    for n in range(3):
        await send(queues, "orders.fifo", f"a{n}", "a")
    [first] = await queues.receive("orders.fifo")
    await queues.delete("orders.fifo", first.receipt_handle)
    # One receive takes a group's messages in order, as many as asked for.
    assert await bodies(queues, "orders.fifo", 10) == ["a1", "a2"]


async def test_an_expired_visibility_timeout_redelivers_the_same_message_first(
    queues: Queues, clock: ManualClock
) -> None:
    await queues.create("orders.fifo", {**FIFO, "VisibilityTimeout": "10"})
    await send(queues, "orders.fifo", "a1", "a")
    await send(queues, "orders.fifo", "a2", "a")
    assert await bodies(queues, "orders.fifo", 1) == ["a1"]
    clock.advance(10)
    [again] = await queues.receive("orders.fifo", 1)
    assert (again.body, again.attributes["ApproximateReceiveCount"]) == ("a1", "2")


async def test_deduplication_within_five_minutes(queues: Queues, clock: ManualClock) -> None:
    await queues.create("orders.fifo", FIFO)
    first = await send(queues, "orders.fifo", "x", "a", dedup="same")
    assert await send(queues, "orders.fifo", "y", "a", dedup="same") == first
    assert queues.depth("orders.fifo") == 1
    clock.advance(300)
    assert await send(queues, "orders.fifo", "z", "a", dedup="same") != first
    assert queues.depth("orders.fifo") == 2
    # The expired id is forgotten on disk too; only the new one is kept.
    with contextlib.closing(sqlite3.connect(queues.path)) as db:
        assert db.execute("SELECT count(*) FROM deduplication").fetchone() == (1,)


async def test_deduplication_survives_a_reopen(queues: Queues, reopen: Reopen) -> None:
    await queues.create("orders.fifo", FIFO)
    first = await send(queues, "orders.fifo", "x", "a", dedup="same")
    reopened = await reopen()
    assert await send(reopened, "orders.fifo", "x", "a", dedup="same") == first
    assert reopened.depth("orders.fifo") == 1


async def test_content_based_deduplication(queues: Queues) -> None:
    await queues.create("orders.fifo", {**FIFO, "ContentBasedDeduplication": "true"})
    sent = await queues.send_messages(
        "orders.fifo",
        [NewMessage("same body", group_id="a"), NewMessage("same body", group_id="b")],
    )
    assert not any(isinstance(s, QueueError) for s in sent)
    assert sent[0].message_id == sent[1].message_id  # type: ignore[union-attr]
    [message] = await queues.receive("orders.fifo", 10)
    # The body's SHA-256 stands in for the deduplication id.
    assert message.attributes["MessageDeduplicationId"] == hashlib.sha256(b"same body").hexdigest()


async def test_deduplication_scope_message_group(queues: Queues) -> None:
    await queues.create("orders.fifo", {**FIFO, "DeduplicationScope": "messageGroup"})
    await send(queues, "orders.fifo", "x", "a", dedup="same")
    await send(queues, "orders.fifo", "x", "b", dedup="same")
    assert queues.depth("orders.fifo") == 2


async def test_sequence_numbers_increase_and_are_shown(queues: Queues, reopen: Reopen) -> None:
    await queues.create("orders.fifo", FIFO)
    sent = await queues.send_messages(
        "orders.fifo",
        [NewMessage(f"m{n}", group_id=f"g{n}", deduplication_id=f"d{n}") for n in range(3)],
    )
    numbers = [s.sequence_number for s in sent if not isinstance(s, QueueError)]
    assert len(numbers) == 3 and numbers == sorted(numbers) and len(set(numbers)) == 3
    received = await queues.receive("orders.fifo", 10)
    assert [m.attributes["SequenceNumber"] for m in received] == numbers
    assert [m.attributes["MessageGroupId"] for m in received] == ["g0", "g1", "g2"]
    reopened = await reopen()
    later = await send(reopened, "orders.fifo", "after", "g9")
    [shown] = [m for m in await reopened.receive("orders.fifo", 10) if m.message_id == later]
    assert shown.attributes["SequenceNumber"] > numbers[-1]


async def test_fifo_sends_are_checked(queues: Queues) -> None:
    await queues.create("orders.fifo", FIFO)
    await queues.create("plain")
    with pytest.raises(MissingParameter):
        await queues.send("orders.fifo", "no group")
    [no_dedup] = await queues.send_messages("orders.fifo", [NewMessage("x", group_id="a")])
    assert isinstance(no_dedup, InvalidParameterValue)
    assert "ContentBasedDeduplication" in no_dedup.message
    [delayed] = await queues.send_messages(
        "orders.fifo", [NewMessage("x", group_id="a", deduplication_id="d", delay_s=5)]
    )
    assert isinstance(delayed, InvalidParameterValue)
    [dedup_on_standard] = await queues.send_messages(
        "plain", [NewMessage("x", deduplication_id="d")]
    )
    assert isinstance(dedup_on_standard, InvalidParameterValue)


async def test_fifo_queues_are_created_as_such(queues: Queues) -> None:
    with pytest.raises(InvalidParameterValue):
        await queues.create("orders.fifo")  # a .fifo name needs FifoQueue=true
    with pytest.raises(InvalidParameterValue):
        await queues.create("orders", FIFO)  # and FifoQueue=true a .fifo name
    with pytest.raises(InvalidAttributeName):
        await queues.create("plain", {"ContentBasedDeduplication": "true"})
    await queues.create("orders.fifo", FIFO)
    attributes = queues.queue_attributes("orders.fifo")
    assert attributes["FifoQueue"] == "true"
    assert attributes["ContentBasedDeduplication"] == "false"
    assert await queues.create("orders.fifo", FIFO) is False
    with pytest.raises(InvalidAttributeName):
        await queues.set_attributes("orders.fifo", {"FifoQueue": "false"})


async def test_fifo_redrive(queues: Queues, clock: ManualClock) -> None:
    await queues.create("dead.fifo", FIFO)
    with pytest.raises(InvalidParameterValue, match="same type"):
        await queues.create(
            "plain",
            {
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": queues.arn("dead.fifo"), "maxReceiveCount": 1}
                )
            },
        )
    policy = json.dumps({"deadLetterTargetArn": queues.arn("dead.fifo"), "maxReceiveCount": 1})
    await queues.create("orders.fifo", {**FIFO, "RedrivePolicy": policy})
    await send(queues, "orders.fifo", "a1", "a")
    await send(queues, "orders.fifo", "a2", "a")
    assert await bodies(queues, "orders.fifo", 1) == ["a1"]
    clock.advance(30)
    # a1 goes to the dead-letter queue; its group moves on to a2.
    assert await bodies(queues, "orders.fifo", 10) == ["a2"]
    [dead] = await queues.receive("dead.fifo")
    assert dead.body == "a1" and dead.attributes["MessageGroupId"] == "a"
