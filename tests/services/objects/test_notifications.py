"""S3 event notifications in-process: what an injected notifier receives, and when."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gureum.clock import ManualClock
from gureum.services.objects import Attributes, Body, CompletedPart, ObjectStorage, Rule
from gureum.services.objects.errors import InvalidArgument, NoSuchKey

FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:thumbnail"
QUEUE = "arn:aws:sqs:us-east-1:000000000000:uploads"


async def chunks(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


class Collector:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, arn: str, payload: bytes) -> None:
        self.calls.append((arn, json.loads(payload)))

    def records(self) -> list[tuple[str, str, str]]:
        """(target, eventName, key) of each call."""
        out = []
        for arn, event in self.calls:
            (record,) = event["Records"]
            out.append((arn, record["eventName"], record["s3"]["object"]["key"]))
        return out


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[ObjectStorage]:
    store = ObjectStorage(tmp_path / "objects", ManualClock(1_800_000_000.0), min_part_size=1)
    await store.start()
    await store.create_bucket("uploads")
    try:
        yield store
    finally:
        await store.aclose()


async def test_events_reach_the_matching_targets(storage: ObjectStorage) -> None:
    collector = Collector()
    storage.notifier = collector
    await storage.put_notification(
        "uploads",
        [
            Rule(
                "images",
                "lambda",
                FUNCTION,
                ("s3:ObjectCreated:*",),
                (("prefix", "photos/"), ("suffix", ".jpg")),
            ),
            Rule("removals", "queue", QUEUE, ("s3:ObjectRemoved:Delete",)),
        ],
    )
    await storage.put_object("uploads", "photos/my cat.jpg", Body(chunks(b"meow")), Attributes())
    await storage.put_object("uploads", "photos/notes.txt", Body(chunks(b"x")), Attributes())
    await storage.copy_object(("uploads", "photos/my cat.jpg"), "uploads", "photos/copy.jpg", None)
    upload = await storage.create_upload("uploads", "photos/big.jpg", Attributes())
    part = await storage.upload_part(
        "uploads", "photos/big.jpg", upload.upload_id, 1, Body(chunks(b"p"))
    )
    await storage.complete_upload(
        "uploads", "photos/big.jpg", upload.upload_id, [CompletedPart(1, part.etag)]
    )
    await storage.delete_object("uploads", "photos/notes.txt")
    await storage.delete_objects("uploads", ["photos/copy.jpg", "never-there"])
    assert collector.records() == [
        (FUNCTION, "ObjectCreated:Put", "photos/my+cat.jpg"),
        (FUNCTION, "ObjectCreated:Copy", "photos/copy.jpg"),
        (FUNCTION, "ObjectCreated:CompleteMultipartUpload", "photos/big.jpg"),
        (QUEUE, "ObjectRemoved:Delete", "photos/notes.txt"),
        (QUEUE, "ObjectRemoved:Delete", "photos/copy.jpg"),
    ]


async def test_the_record_has_s3s_shape(storage: ObjectStorage) -> None:
    collector = Collector()
    storage.notifier = collector
    await storage.put_notification(
        "uploads", [Rule("", "lambda", FUNCTION, ("s3:ObjectCreated:Put",))]
    )
    (rule,) = await storage.get_notification("uploads")
    assert rule.id  # generated, as S3 does
    info = await storage.put_object("uploads", "a/ü b.txt", Body(chunks(b"hello")), Attributes())
    ((arn, event),) = collector.calls
    assert arn == FUNCTION
    (record,) = event["Records"]
    sequencer = record["s3"]["object"].pop("sequencer")
    assert int(sequencer, 16) > 0
    assert record == {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2027-01-15T08:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:gureum"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "", "x-amz-id-2": ""},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": rule.id,
            "bucket": {
                "name": "uploads",
                "ownerIdentity": {
                    "principalId": record["s3"]["bucket"]["ownerIdentity"]["principalId"]
                },
                "arn": "arn:aws:s3:::uploads",
            },
            "object": {"key": "a/%C3%BC+b.txt", "size": 5, "eTag": info.etag},
        },
    }


async def test_sequencers_grow(storage: ObjectStorage) -> None:
    collector = Collector()
    storage.notifier = collector
    await storage.put_notification(
        "uploads", [Rule("all", "queue", QUEUE, ("s3:ObjectCreated:*", "s3:ObjectRemoved:*"))]
    )
    await storage.put_object("uploads", "k", Body(chunks(b"1")), Attributes())
    await storage.put_object("uploads", "k", Body(chunks(b"2")), Attributes())
    await storage.delete_object("uploads", "k")
    sequencers = [int(e["Records"][0]["s3"]["object"]["sequencer"], 16) for _, e in collector.calls]
    assert sequencers == sorted(sequencers) and len(set(sequencers)) == 3


async def test_a_failing_or_missing_notifier_does_not_fail_the_write(
    storage: ObjectStorage,
) -> None:
    await storage.put_notification(
        "uploads", [Rule("x", "lambda", FUNCTION, ("s3:ObjectCreated:*",))]
    )
    await storage.put_object("uploads", "a", Body(chunks(b"1")), Attributes())  # notifier None

    async def broken(arn: str, payload: bytes) -> None:
        raise RuntimeError("queue is down")

    storage.notifier = broken
    await storage.put_object("uploads", "b", Body(chunks(b"2")), Attributes())
    assert (await storage.head_object("uploads", "b")).size == 1
    with pytest.raises(NoSuchKey):
        await storage.head_object("uploads", "c")


@pytest.mark.parametrize(
    "rule",
    [
        Rule(
            "a",
            "lambda",
            "arn:aws:lambda:us-east-1:000000000000:thumbnail",
            ("s3:ObjectCreated:*",),
        ),
        Rule("b", "queue", "arn:aws:sns:us-east-1:000000000000:topic", ("s3:ObjectCreated:*",)),
        Rule("c", "queue", QUEUE, ("s3:ObjectCreated:Everything",)),
        Rule("d", "queue", QUEUE, ("s3:ObjectCreated:*",), (("middle", "x"),)),
        Rule("e", "queue", QUEUE, ()),
    ],
)
async def test_malformed_rules_are_refused(storage: ObjectStorage, rule: Rule) -> None:
    with pytest.raises(InvalidArgument):
        await storage.put_notification("uploads", [rule])


async def test_rules_survive_a_restart(tmp_path: Path) -> None:
    store = ObjectStorage(tmp_path / "o", ManualClock())
    await store.start()
    await store.create_bucket("uploads")
    await store.put_notification("uploads", [Rule("r", "queue", QUEUE, ("s3:ObjectRemoved:*",))])
    await store.aclose()
    store = ObjectStorage(tmp_path / "o", ManualClock())
    await store.start()
    try:
        assert [r.id for r in await store.get_notification("uploads")] == ["r"]
    finally:
        await store.aclose()


async def test_an_event_committed_before_a_crash_is_handed_over_at_the_next_start(
    tmp_path: Path,
) -> None:
    store = ObjectStorage(tmp_path / "o", ManualClock())
    await store.start()
    await store.create_bucket("uploads")
    await store.put_notification("uploads", [Rule("r", "queue", QUEUE, ("s3:ObjectCreated:*",))])

    async def dies(arn: str, payload: bytes) -> None:
        # The process ends here: after the object's commit, before the event was handed over.
        raise asyncio.CancelledError

    store.notifier = dies
    with pytest.raises(asyncio.CancelledError):
        await store.put_object("uploads", "photo.jpg", Body(chunks(b"jpg")), Attributes())
    await store.aclose()

    store = ObjectStorage(tmp_path / "o", ManualClock())
    await store.start()
    collector = Collector()
    store.notifier = collector
    try:
        assert (await store.head_object("uploads", "photo.jpg")).size == 3
        await store.deliver_pending()
        assert collector.records() == [(QUEUE, "ObjectCreated:Put", "photo.jpg")]
        await store.deliver_pending()  # handed over once: not again
        assert len(collector.calls) == 1
    finally:
        await store.aclose()
