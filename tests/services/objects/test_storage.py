"""ObjectStorage in-process: writes, reads, listing, multipart, leftovers of a crash."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gureum.clock import ManualClock
from gureum.services.objects import Attributes, Body, CompletedPart, ObjectStorage
from gureum.services.objects.checksums import of
from gureum.services.objects.errors import (
    BadDigest,
    BucketNotEmpty,
    EntityTooSmall,
    InvalidBucketName,
    InvalidPart,
    InvalidPartOrder,
    InvalidRange,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
)

PLAIN = Attributes()


async def chunks(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def body(*pieces: bytes, **claims: str) -> Body:
    return Body(chunks(*pieces), **claims)  # type: ignore[arg-type]


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[ObjectStorage]:
    store = ObjectStorage(tmp_path / "objects", ManualClock(), min_part_size=10)
    await store.start()
    await store.create_bucket("photos")
    try:
        yield store
    finally:
        await store.aclose()


async def read_all(store: ObjectStorage, key: str, byte_range: str | None = None) -> bytes:
    reading = await store.get_object("photos", key, byte_range)
    out = []
    while chunk := await reading.read():
        out.append(chunk)
    return b"".join(out)


async def test_put_then_get_streams_the_same_bytes(storage: ObjectStorage) -> None:
    pieces = [os.urandom(700_000) for _ in range(4)]  # several 1 MB writes on threads
    info = await storage.put_object("photos", "a/b.bin", body(*pieces), PLAIN)
    whole = b"".join(pieces)
    assert info.etag == hashlib.md5(whole).hexdigest()
    assert info.size == len(whole)
    assert await read_all(storage, "a/b.bin") == whole
    assert await read_all(storage, "a/b.bin", "bytes=10-19") == whole[10:20]
    assert await read_all(storage, "a/b.bin", "bytes=-5") == whole[-5:]
    assert await read_all(storage, "a/b.bin", f"bytes={len(whole) - 3}-") == whole[-3:]
    with pytest.raises(InvalidRange):
        await storage.get_object("photos", "a/b.bin", f"bytes={len(whole)}-")


async def test_digests_are_checked_and_a_bad_body_leaves_nothing(
    storage: ObjectStorage, tmp_path: Path
) -> None:
    data = b"hello world"
    with pytest.raises(BadDigest):
        await storage.put_object(
            "photos", "k", body(data, checksum_algorithm="CRC32", checksum="AAAAAA=="), PLAIN
        )
    with pytest.raises(BadDigest):
        await storage.put_object(
            "photos", "k", body(data, content_md5="1B2M2Y8AsgTpgAmY7PhCfg=="), PLAIN
        )
    with pytest.raises(NoSuchKey):
        await storage.head_object("photos", "k")
    assert list((tmp_path / "objects" / "tmp").iterdir()) == []
    info = await storage.put_object(
        "photos", "k", body(data, checksum_algorithm="CRC32", checksum=of("CRC32", data)), PLAIN
    )
    assert info.checksum is not None and info.checksum.value == "DUoRhQ=="


async def test_overwrite_keeps_an_open_reader_consistent(storage: ObjectStorage) -> None:
    old = os.urandom(3 * 1024 * 1024)
    await storage.put_object("photos", "k", body(old), PLAIN)
    reading = await storage.get_object("photos", "k")
    await storage.put_object("photos", "k", body(b"new"), PLAIN)
    out = []
    while chunk := await reading.read():
        out.append(chunk)
    assert b"".join(out) == old
    assert await read_all(storage, "k") == b"new"
    files = [p for p in (storage.root / "data").rglob("*") if p.is_file()]
    assert len(files) == 1  # the replaced file is gone


async def test_errors(storage: ObjectStorage) -> None:
    with pytest.raises(InvalidBucketName):
        await storage.create_bucket("Not_Valid")
    with pytest.raises(NoSuchBucket):
        await storage.put_object("missing", "k", body(b"x"), PLAIN)
    await storage.put_object("photos", "k", body(b"x"), PLAIN)
    with pytest.raises(BucketNotEmpty):
        await storage.delete_bucket("photos")
    await storage.delete_object("photos", "k")
    await storage.delete_object("photos", "k")  # deleting nothing is fine, as on S3
    await storage.delete_bucket("photos")
    with pytest.raises(NoSuchBucket):
        await storage.head_bucket("photos")


async def test_listing_with_prefixes_delimiters_and_pages(storage: ObjectStorage) -> None:
    keys = ["a.txt", "dir/1", "dir/2", "dir/sub/3", "other/x", "z"]
    for key in keys:
        await storage.put_object("photos", key, body(b"."), PLAIN)
    page = await storage.list_objects("photos", delimiter="/")
    assert [i.key for i in page.contents] == ["a.txt", "z"]
    assert page.prefixes == ["dir/", "other/"]
    page = await storage.list_objects("photos", prefix="dir/", delimiter="/")
    assert [i.key for i in page.contents] == ["dir/1", "dir/2"]
    assert page.prefixes == ["dir/sub/"]
    seen: list[str] = []
    after = ""
    while True:
        page = await storage.list_objects("photos", delimiter="/", max_keys=1, after=after)
        seen += [i.key for i in page.contents] + page.prefixes
        if not page.truncated:
            break
        assert page.last is not None
        after = page.last
    assert seen == ["a.txt", "dir/", "other/", "z"]


async def test_multipart(storage: ObjectStorage) -> None:
    upload = await storage.create_upload("photos", "big", Attributes("image/png"), "CRC32")
    one, two = b"0123456789AB", b"tail"
    p1 = await storage.upload_part("photos", "big", upload.upload_id, 1, body(one))
    p2 = await storage.upload_part("photos", "big", upload.upload_id, 2, body(two))
    _, parts, truncated = await storage.list_parts("photos", "big", upload.upload_id)
    assert [p.number for p in parts] == [1, 2] and not truncated
    with pytest.raises(InvalidPartOrder):
        await storage.complete_upload(
            "photos",
            "big",
            upload.upload_id,
            [CompletedPart(2, p2.etag), CompletedPart(1, p1.etag)],
        )
    with pytest.raises(InvalidPart):
        await storage.complete_upload(
            "photos", "big", upload.upload_id, [CompletedPart(1, "0" * 32)]
        )
    p3 = await storage.upload_part("photos", "big", upload.upload_id, 3, body(b"x"))
    with pytest.raises(EntityTooSmall):
        await storage.complete_upload(
            "photos",
            "big",
            upload.upload_id,
            [CompletedPart(2, p2.etag), CompletedPart(3, p3.etag)],
        )
    info = await storage.complete_upload(
        "photos", "big", upload.upload_id, [CompletedPart(1, p1.etag), CompletedPart(2, p2.etag)]
    )
    md5s = bytes.fromhex(p1.etag) + bytes.fromhex(p2.etag)
    assert info.etag == hashlib.md5(md5s).hexdigest() + "-2"
    assert info.checksum is not None and info.checksum.type == "COMPOSITE"
    assert info.checksum.value.endswith("-2")
    assert await read_all(storage, "big") == one + two
    with pytest.raises(NoSuchUpload):
        await storage.abort_upload("photos", "big", upload.upload_id)
    files = [p for p in (storage.root / "data").rglob("*") if p.is_file()]
    assert len(files) == 1  # the parts went with the upload


async def test_start_deletes_what_a_crash_left(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    store = ObjectStorage(root, ManualClock())
    await store.start()
    await store.create_bucket("photos")
    await store.put_object("photos", "kept", body(b"kept"), PLAIN)
    await store.aclose()
    # A body half received, and a file moved into place whose row was never committed.
    (root / "tmp" / "0123").write_bytes(b"half")
    (root / "data" / "ab" / "ab0123").write_bytes(b"orphan")
    store = ObjectStorage(root, ManualClock())
    await store.start()
    try:
        assert list((root / "tmp").iterdir()) == []
        assert not (root / "data" / "ab" / "ab0123").exists()
        reading = await store.get_object("photos", "kept")
        assert await reading.read() == b"kept"
    finally:
        await store.aclose()
