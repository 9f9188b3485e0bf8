"""ObjectStorage: the S3 API's buckets and objects on local disk (``files``, ``catalog``).

Every write follows one order, so a crash at any point leaves no half object visible: receive
the body into ``tmp/`` (hashing it as it arrives), verify the digests the client sent, move the
file into ``data/`` under a fresh name, commit the row that points to it, then delete the file
it replaced. Bodies are written in ~1 MB pieces on worker threads, and the last piece, the move
and the commit share one thread hop, so a small object costs one. Reads open the file while the
row is current and stream it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path

from ...clock import Clock
from . import multipart, notifications
from .catalog import Catalog, Event
from .digests import Digests
from .errors import (
    EntityTooLarge,
    InvalidArgument,
    InvalidPartOrder,
    InvalidRequest,
    MalformedXML,
    NoSuchBucket,
)
from .files import Layout, Writer
from .listing import list_page
from .names import check_bucket_name, check_key
from .notifications import Rule, Sequencer
from .reading import READ_CHUNK, Reading, parse_range
from .types import (
    Attributes,
    Body,
    Bucket,
    Checksum,
    CompletedPart,
    Listing,
    ObjectInfo,
    Part,
    Requester,
    Upload,
)

log = logging.getLogger("gureum.objects")

# Bodies are handed to the disk in pieces of about this size.
WRITE_CHUNK = 1024 * 1024
MAX_OBJECT_SIZE = 5 * 1024**3  # S3's largest single PUT (and part)
MIN_PART_SIZE = 5 * 1024 * 1024  # every part but the last
MAX_PART_NUMBER = 10_000

# Where S3 events go: (target ARN, the event JSON). Set by whoever delivers them.
Notifier = Callable[[str, bytes], Awaitable[None]]


class ObjectStorage:
    """Buckets and objects under ``root``.

    ``fsync``: an acknowledged write is on disk (survives power loss, not only a crash of
    gureum). ``notifier``, when set, receives each S3 event after the write it reports is
    committed and before the writer hears back; a failing notifier is logged, the write stands.
    """

    def __init__(
        self, root: Path, clock: Clock, *, fsync: bool = True, min_part_size: int = MIN_PART_SIZE
    ) -> None:
        self.root = root
        self.clock = clock
        self.min_part_size = min_part_size
        self.notifier: Notifier | None = None
        self._layout = Layout(root, fsync=fsync)
        self._catalog: Catalog | None = None
        # Every bucket, with its notification rules: the write path asks here, not SQLite.
        self._buckets: dict[str, list[Rule]] = {}
        self._sequencer = Sequencer()
        self._handing_over = asyncio.Lock()  # one hand-over at a time: each event goes once

    async def start(self) -> None:
        """Open the catalog, and delete what a crash left behind (temporary files, files no row
        points to) before any request can add new ones."""
        self._catalog = await asyncio.to_thread(self._open)

    def _open(self) -> Catalog:
        self.root.mkdir(parents=True, exist_ok=True)
        self._layout.create()
        catalog = Catalog(self.root / "objects.db", fsync=self._layout.fsync)
        removed = self._layout.clean(catalog.files())
        if removed:
            log.info("removed %d files left by an interrupted write", removed)
        self._buckets = {
            name: notifications.loads(text) for name, text in catalog.notifications().items()
        }
        return catalog

    async def aclose(self) -> None:
        if self._catalog is not None:
            await asyncio.to_thread(self._catalog.close)
            self._catalog = None

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            raise RuntimeError("the object storage is not started")
        return self._catalog

    # Buckets

    async def create_bucket(self, name: str) -> Bucket:
        """BucketAlreadyOwnedByYou if it exists, InvalidBucketName for a name S3 refuses."""
        check_bucket_name(name)
        bucket = Bucket(name, self.clock.time())
        await asyncio.to_thread(self.catalog.create_bucket, name, bucket.created)
        self._buckets[name] = []
        return bucket

    async def list_buckets(self) -> list[Bucket]:
        return await asyncio.to_thread(self.catalog.buckets)

    async def head_bucket(self, name: str) -> None:
        self._require_bucket(name)

    async def delete_bucket(self, name: str) -> None:
        """BucketNotEmpty while it holds objects; its unfinished multipart uploads go with it."""
        self._require_bucket(name)

        def delete() -> None:
            self._layout.remove(self.catalog.delete_bucket(name))

        await asyncio.to_thread(delete)
        self._buckets.pop(name, None)

    async def put_notification(self, bucket: str, rules: Sequence[Rule]) -> list[Rule]:
        """Replaces the bucket's notification rules (InvalidArgument for a malformed one)."""
        self._require_bucket(bucket)
        checked = notifications.check(rules)
        await asyncio.to_thread(self.catalog.set_notification, bucket, notifications.dumps(checked))
        self._buckets[bucket] = checked
        return checked

    async def get_notification(self, bucket: str) -> list[Rule]:
        self._require_bucket(bucket)
        return list(self._buckets[bucket])

    def _require_bucket(self, name: str) -> None:
        if name not in self._buckets:
            raise NoSuchBucket("The specified bucket does not exist", BucketName=name)

    # Objects

    async def put_object(
        self,
        bucket: str,
        key: str,
        body: Body,
        attributes: Attributes,
        requester: Requester | None = None,
    ) -> ObjectInfo:
        """Stores ``body`` as ``key``, atomically replacing any object there. BadDigest if it
        does not match the Content-MD5 or flexible checksum its sender claimed."""
        check_key(key)
        self._require_bucket(bucket)
        writer = Writer(self._layout, Digests(body))
        tail = await self._receive(writer, body)

        def commit() -> ObjectInfo:
            checksum, file = self._finish(writer, tail)
            info = ObjectInfo(
                bucket=bucket,
                key=key,
                size=writer.size,
                etag=writer.digests.md5.hexdigest(),
                last_modified=self.clock.time(),
                attributes=attributes,
                checksum=checksum,
                parts=0,
                file=file,
            )
            self._commit(info, self._events("ObjectCreated:Put", bucket, key, info, requester))
            return info

        info = await asyncio.to_thread(commit)
        await self._hand_over_events(bucket)
        return info

    async def head_object(self, bucket: str, key: str) -> ObjectInfo:
        """NoSuchKey, or NoSuchBucket."""
        self._require_bucket(bucket)
        return await asyncio.to_thread(self.catalog.get, bucket, key)

    async def get_object(self, bucket: str, key: str, byte_range: str | None = None) -> Reading:
        """The object's bytes (those of ``byte_range``, a ``Range`` header, if given), opened
        as they are now. InvalidRange for a range outside it. The caller closes the Reading."""
        self._require_bucket(bucket)
        return await asyncio.to_thread(self._open_reading, bucket, key, byte_range)

    def _open_reading(self, bucket: str, key: str, byte_range: str | None) -> Reading:
        while True:
            info = self.catalog.get(bucket, key)
            try:
                file = self._layout.open(info.file)
            except FileNotFoundError:
                continue  # replaced or deleted since its row was read: look again
            try:
                span = parse_range(byte_range, info.size) if byte_range else None
                start, stop = span or (0, info.size)
                if start:
                    file.seek(start)
                first = file.read(min(READ_CHUNK, stop - start))
            except BaseException:
                file.close()
                raise
            if stop - start <= len(first):
                file.close()
                return Reading(info, start, stop, first, None)
            reading = Reading(info, start, stop, first, file)
            return reading

    async def copy_object(
        self,
        source: tuple[str, str],
        bucket: str,
        key: str,
        attributes: Attributes | None,
        requester: Requester | None = None,
    ) -> ObjectInfo:
        """Copies ``source`` (bucket, key) to ``key``; with ``attributes`` None the source's
        metadata is copied too (S3's COPY directive), else replaced."""
        check_key(key)
        self._require_bucket(source[0])
        self._require_bucket(bucket)

        def copy() -> ObjectInfo:
            while True:
                original = self.catalog.get(*source)
                if original.bucket == bucket and original.key == key and attributes is None:
                    raise InvalidRequest(
                        "This copy request is illegal because it is trying to copy an object to "
                        "itself without changing the object's metadata, storage class, website "
                        "redirect location or encryption attributes."
                    )
                try:
                    file = self._layout.link(original.file)
                except FileNotFoundError:
                    continue  # replaced meanwhile: copy what is there now
                break
            info = dataclasses.replace(
                original,
                bucket=bucket,
                key=key,
                file=file,
                last_modified=self.clock.time(),
                attributes=attributes or original.attributes,
            )
            self._commit(info, self._events("ObjectCreated:Copy", bucket, key, info, requester))
            return info

        info = await asyncio.to_thread(copy)
        await self._hand_over_events(bucket)
        return info

    async def delete_object(
        self, bucket: str, key: str, requester: Requester | None = None
    ) -> None:
        """Deletes the object if there is one (no error if there is none, as S3)."""
        self._require_bucket(bucket)
        if await asyncio.to_thread(self._delete, bucket, key, requester):
            await self._hand_over_events(bucket)

    async def delete_objects(
        self, bucket: str, keys: Sequence[str], requester: Requester | None = None
    ) -> None:
        self._require_bucket(bucket)

        def delete_all() -> list[str]:
            return [key for key in keys if self._delete(bucket, key, requester)]

        if await asyncio.to_thread(delete_all):
            await self._hand_over_events(bucket)

    def _delete(self, bucket: str, key: str, requester: Requester | None) -> bool:
        events = self._events("ObjectRemoved:Delete", bucket, key, None, requester)
        file = self.catalog.delete(bucket, key, events)
        if file is None:
            return False
        self._layout.remove([file])
        return True

    async def list_objects(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        max_keys: int = 1000,
        after: str = "",
    ) -> Listing:
        """A page of keys and common prefixes after ``after`` (a key, or a common prefix a
        previous page ended with)."""
        self._require_bucket(bucket)

        def page() -> Listing:
            def scan(start: str) -> Iterator[ObjectInfo]:
                return self.catalog.scan(bucket, start, prefix)

            return list_page(scan, prefix, delimiter, max_keys, after)

        return await asyncio.to_thread(page)

    # Multipart uploads

    async def create_upload(
        self,
        bucket: str,
        key: str,
        attributes: Attributes,
        checksum_algorithm: str = "",
        checksum_type: str = "",
    ) -> Upload:
        check_key(key)
        self._require_bucket(bucket)
        if checksum_algorithm and not checksum_type:
            # S3's defaults: CRC64NVME can only be FULL_OBJECT, the others are COMPOSITE.
            checksum_type = "FULL_OBJECT" if checksum_algorithm == "CRC64NVME" else "COMPOSITE"
        upload = Upload(
            upload_id=secrets.token_urlsafe(48),
            bucket=bucket,
            key=key,
            initiated=self.clock.time(),
            attributes=attributes,
            checksum_algorithm=checksum_algorithm,
            checksum_type=checksum_type if checksum_algorithm else "",
        )
        await asyncio.to_thread(self.catalog.create_upload, upload)
        return upload

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, number: int, body: Body
    ) -> Part:
        """Stores one part (replacing an earlier one of the same number). NoSuchUpload unless
        the upload is unfinished."""
        if not 1 <= number <= MAX_PART_NUMBER:
            raise InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive",
                ArgumentName="partNumber",
                ArgumentValue=str(number),
            )
        self._require_bucket(bucket)
        upload = await asyncio.to_thread(self.catalog.upload, bucket, key, upload_id)
        algorithm = upload.checksum_algorithm
        if algorithm and body.checksum_algorithm and body.checksum_algorithm != algorithm:
            raise InvalidRequest(
                f"Checksum Type mismatch occurred, expected checksum Type: {algorithm.lower()}, "
                f"actual checksum Type: {body.checksum_algorithm.lower()}"
            )
        body.checksum_algorithm = body.checksum_algorithm or algorithm or None
        writer = Writer(self._layout, Digests(body))
        tail = await self._receive(writer, body)

        def commit() -> Part:
            checksum, file = self._finish(writer, tail)
            part = Part(
                number=number,
                size=writer.size,
                etag=writer.digests.md5.hexdigest(),
                last_modified=self.clock.time(),
                checksum=checksum.value if checksum else "",
                file=file,
            )
            try:
                replaced = self.catalog.put_part(bucket, key, upload_id, part)
            except BaseException:
                self._layout.remove([file])
                raise
            if replaced:
                self._layout.remove([replaced])
            return part

        return await asyncio.to_thread(commit)

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, after: int = 0, limit: int = 1000
    ) -> tuple[Upload, list[Part], bool]:
        """The upload, up to ``limit`` of its parts numbered above ``after``, and whether more
        follow."""
        self._require_bucket(bucket)

        def parts() -> tuple[Upload, list[Part], bool]:
            upload = self.catalog.upload(bucket, key, upload_id)
            found = self.catalog.parts(upload_id, after, limit + 1)
            return upload, found[:limit], len(found) > limit

        return await asyncio.to_thread(parts)

    async def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self._require_bucket(bucket)

        def abort() -> None:
            self._layout.remove(self.catalog.abort(bucket, key, upload_id))

        await asyncio.to_thread(abort)

    async def complete_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: Sequence[CompletedPart],
        requester: Requester | None = None,
    ) -> ObjectInfo:
        """Joins the listed parts into the object. InvalidPartOrder, InvalidPart (unknown part or
        ETag), EntityTooSmall (a part but the last under the minimum), NoSuchUpload."""
        self._require_bucket(bucket)
        if not parts:
            raise MalformedXML(
                "The XML you provided was not well-formed or did not validate against our "
                "published schema"
            )
        numbers = [part.number for part in parts]
        if any(b <= a for a, b in itertools.pairwise(numbers)):
            raise InvalidPartOrder(
                "The list of parts was not in ascending order. Parts must be ordered by part "
                "number.",
                UploadId=upload_id,
            )
        info = await asyncio.to_thread(self._complete, bucket, key, upload_id, parts, requester)
        await self._hand_over_events(bucket)
        return info

    def _complete(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        wanted: Sequence[CompletedPart],
        requester: Requester | None,
    ) -> ObjectInfo:
        upload = self.catalog.upload(bucket, key, upload_id)
        chosen = multipart.choose(
            upload, self.catalog.parts(upload_id), wanted, min_part_size=self.min_part_size
        )
        info = multipart.join(self._layout, upload, chosen, now=self.clock.time())
        events = self._events("ObjectCreated:CompleteMultipartUpload", bucket, key, info, requester)
        self._commit(info, events, upload_id=upload_id)
        return info

    # The write path's steps

    async def _receive(self, writer: Writer, body: Body) -> list[bytes]:
        """Writes the body to ``writer`` in ~1 MB pieces on worker threads (receiving the next
        piece while the last one is written); returns the last piece, still to write.
        EntityTooLarge past S3's limit. On any failure the temporary file is deleted."""
        pending: list[bytes] = []
        pending_size = total = 0
        writing: asyncio.Task[None] | None = None
        try:
            async for chunk in body.chunks:
                total += len(chunk)
                if total > MAX_OBJECT_SIZE:
                    raise EntityTooLarge(
                        "Your proposed upload exceeds the maximum allowed size",
                        MaxSizeAllowed=str(MAX_OBJECT_SIZE),
                    )
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= WRITE_CHUNK:
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(asyncio.to_thread(writer.write, pending))
                    pending, pending_size = [], 0
            if writing is not None:
                await writing
        except BaseException:
            if writing is not None and not writing.done():
                writing.cancel()  # the thread finishes its write; discard waits for it
            # Not cancellable: the file goes even if this task is being cancelled.
            await asyncio.shield(asyncio.to_thread(writer.discard))
            raise
        return pending

    def _finish(self, writer: Writer, tail: list[bytes]) -> tuple[Checksum | None, str]:
        """Writes the tail, checks the digests, moves the file into place: (checksum, file)."""
        try:
            writer.write(tail)
            checksum = writer.digests.verify()
            return checksum, writer.finish()
        except BaseException:
            writer.discard()
            raise

    def _commit(
        self, info: ObjectInfo, events: list[Event], *, upload_id: str | None = None
    ) -> None:
        try:
            replaced = self.catalog.put(info, upload_id=upload_id, events=events)
        except BaseException:
            self._layout.remove([info.file])
            raise
        self._layout.remove(replaced)

    def _events(
        self,
        event_name: str,
        bucket: str,
        key: str,
        info: ObjectInfo | None,
        requester: Requester | None,
    ) -> list[Event]:
        """The S3 events a change makes, one per matching rule: written with the change."""
        rules = self._buckets.get(bucket)
        if not rules or self.notifier is None:
            return []
        now = self.clock.time()
        sequencer = self._sequencer.next(now)
        return [
            (
                rule.arn,
                notifications.record(
                    rule, event_name, bucket, key, info, requester or Requester(), now, sequencer
                ),
            )
            for rule in rules
            if rule.matches(event_name, key)
        ]

    async def _hand_over_events(self, bucket: str) -> None:
        """After a change of ``bucket``: give the notifier what it has not had yet."""
        if self._buckets.get(bucket) and self.notifier is not None:
            await self.deliver_pending()

    async def deliver_pending(self) -> None:
        """Give the notifier every event not handed over yet (after a change; at start, those a
        crash left), each once; a failing notifier is logged, and the event dropped."""
        if self.notifier is None:
            return
        async with self._handing_over:
            pending = await asyncio.to_thread(self.catalog.pending_events)
            for _, target, payload in pending:
                try:
                    await self.notifier(target, payload)
                except Exception:
                    log.exception("could not hand an S3 event to %s", target)
            if pending:
                await asyncio.to_thread(
                    self.catalog.events_handed_over, [row_id for row_id, _, _ in pending]
                )
