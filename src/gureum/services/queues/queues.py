"""``Queues``: every queue of a data dir, in memory, with queues.db as its durable copy.

Each change happens in two steps taken together, with no ``await`` between them: memory changes,
and the matching write is queued on the group-commit database. The caller's answer waits for that
write's commit. Writes commit in the order they were queued, and every answer waits for its own
commit, so nobody hears of a message (or a delete, or a receive) that a crash could still undo,
while a whole burst of sends costs one fsync.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from ...clock import Clock
from ...events.db import GroupCommitDb
from . import attributes as queue_attributes
from . import receiving, sending, storage
from .errors import (
    InvalidAttributeName,
    InvalidParameterValue,
    QueueDoesNotExist,
    QueueError,
    QueueNameExists,
    QueuesClosed,
)
from .messages import Message, NewMessage, SentMessage
from .state import QueueState

T = TypeVar("T")


class Queues:
    """The queues of ``path`` (an SQLite database). See the package docstring for the API."""

    def __init__(
        self,
        path: Path,
        clock: Clock,
        *,
        region: str = "us-east-1",
        account: str = "000000000000",
        fsync: bool = True,
    ) -> None:
        self.path = path
        self.clock = clock
        self.region = region
        self.account = account
        self._db = GroupCommitDb(path, storage.MIGRATIONS, fsync=fsync)
        self._by_name: dict[str, QueueState] = {}
        self._row_ids = itertools.count(1)  # rows are numbered here: memory knows them first
        self._next_queue = 1
        self._expired: list[int] = []  # rows that left memory, deleted with the next write
        self._deduplication_pruned = False  # FIFO ids forgotten in memory, not yet on disk
        self._closing = False
        self._arn_prefix = f"arn:aws:sqs:{region}:{account}:"

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self._db.start()
        loaded = await self._db.run(storage.load)
        now = self.clock.time()
        by_id: dict[int, QueueState] = {}
        for queue in loaded.queues:
            queue.arn = self.arn(queue.name)
            self._by_name[queue.name] = by_id[queue.id] = queue
            self._next_queue = max(self._next_queue, queue.id + 1)
        last_row = 0
        for queue_id, message in loaded.messages:
            last_row = message.row_id
            owner = by_id.get(queue_id)
            if owner is not None:
                owner.add(message, now)
        self._row_ids = itertools.count(last_row + 1)
        for queue_id, scope, dedup_id, message_id, sequence, expires_at in loaded.deduplication:
            if queue_id in by_id and expires_at > now:
                by_id[queue_id].deduplication.seen[(scope, dedup_id)] = (
                    message_id,
                    sequence,
                    expires_at,
                )
        for queue_id, last in loaded.sequences.items():
            if queue_id in by_id:
                by_id[queue_id].sequence = last
        for queue in by_id.values():
            self._settle(queue, now)

    async def aclose(self) -> None:
        """Long polls in progress return what they have (nothing); later calls raise
        QueuesClosed. Pending expiries are written before the database closes."""
        if self._closing:
            return
        self._closing = True
        for queue in self._by_name.values():
            queue.notify()
        if self._expired:
            expired, self._expired = self._expired, []
            await self._db.run(lambda c: storage.delete_messages(c, expired))
        await self._db.aclose()

    # -- names ---------------------------------------------------------------------------------

    def arn(self, name: str) -> str:
        return self._arn_prefix + name

    def name_of_arn(self, arn: str) -> str:
        """The name of the queue ``arn`` names; QueueDoesNotExist if there is none."""
        queue = self._by_arn(arn)
        if queue is None:
            raise QueueDoesNotExist(f"The specified queue does not exist: {arn}")
        return queue.name

    def exists(self, name: str) -> bool:
        return name in self._by_name

    def names(self, prefix: str = "") -> list[str]:
        return sorted(name for name in self._by_name if name.startswith(prefix))

    def _queue(self, name: str) -> QueueState:
        if self._closing:
            raise QueuesClosed("gureum is shutting down")
        queue = self._by_name.get(name)
        if queue is None:
            raise QueueDoesNotExist()
        return queue

    # -- queues --------------------------------------------------------------------------------

    async def create(
        self,
        name: str,
        attributes: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> bool:
        """Create queue ``name``; True if created, False if it existed with the same values
        for the attributes given (QueueNameExists if any differs)."""
        given = dict(attributes or {})
        wants_fifo = queue_attributes.is_fifo_request(name, given)
        queue_attributes.check_name(name, wants_fifo or name.endswith(".fifo"))
        if name.endswith(".fifo") and not wants_fifo:
            raise InvalidParameterValue(
                "The name of a FIFO queue must be created with the attribute FifoQueue=true."
            )
        existing = self._queue(name) if name in self._by_name else None
        values = queue_attributes.normalise(
            given, fifo=wants_fifo, arn=self.arn(name), dead_letter=self._dead_letter_facts
        )
        if existing is not None:
            current = {**existing.attributes, "FifoQueue": str(existing.settings.fifo).lower()}
            for key, value in {**values, **({"FifoQueue": "true"} if wants_fifo else {})}.items():
                if current.get(key, "") != value:
                    raise QueueNameExists(
                        "A queue already exists with the same name and a different value for "
                        f"attribute {key}"
                    )
            return False
        now = self.clock.time()
        merged = {**queue_attributes.defaults(wants_fifo), **values}
        queue = QueueState(
            id=self._next_queue,
            name=name,
            arn=self.arn(name),
            attributes={key: value for key, value in merged.items() if value != ""},
            tags=queue_attributes.check_tags(tags or {}),
            created_at=now,
            modified_at=now,
        )
        self._next_queue += 1
        self._by_name[name] = queue
        await self._write(lambda c: storage.insert_queue(c, queue))
        return True

    def _by_arn(self, arn: str) -> QueueState | None:
        if not arn.startswith(self._arn_prefix):
            return None
        return self._by_name.get(arn[len(self._arn_prefix) :])

    def _dead_letter_facts(self, arn: str) -> tuple[bool, str | None] | None:
        queue = self._by_arn(arn)
        if queue is None:
            return None
        return queue.settings.fifo, queue.attributes.get("RedriveAllowPolicy")

    async def delete_queue(self, name: str) -> None:
        queue = self._queue(name)
        del self._by_name[name]
        queue.deleted = True
        queue.clear()
        queue.notify()
        await self._write(lambda c: storage.delete_queue(c, queue.id))

    async def purge(self, name: str) -> None:
        """Delete every message of the queue (those in flight too)."""
        queue = self._queue(name)
        queue.clear()
        await self._write(lambda c: storage.purge(c, queue.id))

    def queue_attributes(self, name: str, names: Iterable[str] = ("All",)) -> dict[str, str]:
        """The queue's attributes as GetQueueAttributes shows them (``All``, or each of
        ``names``; InvalidAttributeName for a name SQS does not know)."""
        queue = self._queue(name)
        wanted = set(names)
        unknown = wanted - queue_attributes.ALL_NAMES - {"All"}
        if unknown:
            raise InvalidAttributeName(f"Unknown Attribute {sorted(unknown)[0]}.")
        self._settle(queue, self.clock.time())
        ready, inflight, delayed = queue.counts
        values = {
            "QueueArn": queue.arn,
            "ApproximateNumberOfMessages": str(ready),
            "ApproximateNumberOfMessagesNotVisible": str(inflight),
            "ApproximateNumberOfMessagesDelayed": str(delayed),
            "CreatedTimestamp": str(int(queue.created_at)),
            "LastModifiedTimestamp": str(int(queue.modified_at)),
            **queue.attributes,
        }
        if "All" in wanted:
            return values
        return {key: values[key] for key in wanted if key in values}

    async def set_attributes(self, name: str, attributes: Mapping[str, str]) -> None:
        queue = self._queue(name)
        if "FifoQueue" in attributes:
            raise InvalidAttributeName("Unknown Attribute FifoQueue.")
        values = queue_attributes.normalise(
            attributes,
            fifo=queue.settings.fifo,
            arn=queue.arn,
            dead_letter=self._dead_letter_facts,
        )
        merged = {**queue.attributes, **values}
        queue.configure(
            {key: value for key, value in merged.items() if value != ""}, self.clock.time()
        )
        self._settle(queue, self.clock.time())  # a shorter retention applies at once
        await self._write_queue(queue)

    def tags(self, name: str) -> dict[str, str]:
        return dict(self._queue(name).tags)

    async def tag(self, name: str, tags: Mapping[str, str]) -> None:
        queue = self._queue(name)
        queue.tags = queue_attributes.check_tags({**queue.tags, **tags})
        await self._write_queue(queue)

    async def untag(self, name: str, keys: Iterable[str]) -> None:
        queue = self._queue(name)
        queue.tags = {key: value for key, value in queue.tags.items() if key not in set(keys)}
        await self._write_queue(queue)

    def dead_letter_sources(self, name: str) -> list[str]:
        """The queues whose RedrivePolicy names queue ``name``."""
        arn = self._queue(name).arn
        return sorted(q.name for q in self._by_name.values() if q.settings.dead_letter_arn == arn)

    async def _write_queue(self, queue: QueueState) -> None:
        attributes, tags = json.dumps(queue.attributes), json.dumps(queue.tags)
        modified_at = queue.modified_at
        await self._write(
            lambda c: storage.update_queue(c, queue.id, attributes, tags, modified_at)
        )

    # -- messages ------------------------------------------------------------------------------

    async def send(
        self,
        name: str,
        body: str,
        *,
        attributes: dict[str, dict[str, str]] | None = None,
        delay_s: int | None = None,
    ) -> str:
        """Send one message; returns its message id once it is committed to disk. ``attributes``
        are message attributes in the SQS JSON shape. Raises QueueError for a bad message."""
        [sent] = await self.send_messages(
            name, [NewMessage(body, message_attributes=attributes, delay_s=delay_s)]
        )
        if isinstance(sent, QueueError):
            raise sent
        return sent.message_id

    async def send_messages(
        self, name: str, entries: Sequence[NewMessage], sender_id: str | None = None
    ) -> list[SentMessage | QueueError]:
        """Send several messages in one commit: per entry, what was sent or why it was not.
        Raises QueueDoesNotExist (for all) when the queue does not."""
        queue = self._queue(name)
        now = self.clock.time()
        self._settle(queue, now)
        prepared = sending.prepare(
            queue, entries, sender_id or self.account, now, lambda: next(self._row_ids)
        )
        if not prepared.messages:
            return prepared.results
        for message in prepared.messages:
            queue.add(message, now)
        queue.notify()

        def insert(conn: sqlite3.Connection) -> None:
            storage.insert_messages(conn, queue.id, prepared.messages)
            storage.remember_deduplication(conn, prepared.deduplication)
            if prepared.sequence is not None:
                storage.set_sequence(conn, queue.id, prepared.sequence)

        try:
            await self._write(insert)
        except BaseException:
            # Not on disk (a disk error, or closing): not in the queue either.
            for message in prepared.messages:
                if queue.messages.get(message.row_id) is message:
                    queue.remove(message)
            raise
        return prepared.results

    async def receive(
        self,
        name: str,
        max_messages: int = 1,
        *,
        visibility_timeout_s: int | None = None,
        wait_s: float | None = 0,
    ) -> list[Message]:
        """Up to ``max_messages`` (1-10) visible messages, hidden for ``visibility_timeout_s``
        (default: the queue's VisibilityTimeout). With none visible, waits up to ``wait_s``
        seconds (None: the queue's ReceiveMessageWaitTimeSeconds) for one to arrive. A message
        received more often than the queue's RedrivePolicy allows goes to its dead-letter queue
        instead. Returns once the receives are committed (their receive counts survive a crash).
        """
        receiving.check_range("MaxNumberOfMessages", max_messages, 1, receiving.MAX_RECEIVE)
        if visibility_timeout_s is not None:
            receiving.check_range(
                "VisibilityTimeout", visibility_timeout_s, 0, receiving.MAX_VISIBILITY_S
            )
        queue = self._queue(name)
        wait = queue.settings.wait_s if wait_s is None else wait_s
        receiving.check_range("WaitTimeSeconds", wait, 0, receiving.MAX_WAIT_S)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            received = await self._receive_now(queue, max_messages, visibility_timeout_s)
            if received:
                return received
            remaining = deadline - loop.time()
            if remaining <= 0 or queue.deleted or self._closing:
                return []
            await self._wait(queue, remaining)

    async def _receive_now(
        self, queue: QueueState, limit: int, visibility_timeout_s: int | None
    ) -> list[Message]:
        now = self.clock.time()
        self._settle(queue, now)
        visibility = queue.settings.visibility_timeout_s
        if visibility_timeout_s is not None:
            visibility = visibility_timeout_s
        dead_letter = None
        if queue.settings.dead_letter_arn is not None:
            # A dead-letter queue deleted since: messages stay where they are.
            dead_letter = self._by_arn(queue.settings.dead_letter_arn)
        taken = receiving.take(queue, limit, visibility, dead_letter, now)
        if taken.receipts or taken.moves:

            def record(conn: sqlite3.Connection) -> None:
                storage.record_receives(conn, taken.receipts)
                storage.move_messages(conn, taken.moves)

            await self._write(record)
        return taken.messages

    async def _wait(self, queue: QueueState, timeout_s: float) -> None:
        due = queue.next_visible_at()
        if due is not None:
            timeout_s = min(timeout_s, max(due - self.clock.time(), 0.0))
        await queue.wait(timeout_s)

    async def wait_for_messages(self, name: str, timeout_s: float) -> bool:
        """Returns when queue ``name`` may have a visible message (a send, a message whose
        delay or visibility timeout ended), or after ``timeout_s`` seconds; True if it has one
        then. For pollers: wait here instead of polling in a loop. QueueDoesNotExist if the
        queue does not exist."""
        queue = self._queue(name)
        if self.depth(name) == 0 and timeout_s > 0:
            await self._wait(queue, timeout_s)
        return not queue.deleted and not self._closing and self.depth(name) > 0

    def clock_moved(self) -> None:
        """Wake every waiting receive to look again: messages whose delay or visibility timeout
        ended by the clock's time are visible now (tests on a manual clock call this after
        moving it; on the real clock a waiter's own timeout does it)."""
        for queue in self._by_name.values():
            queue.notify()

    def waiters(self, name: str) -> int:
        """How many receives and pollers are waiting for a message of queue ``name`` now."""
        return self._queue(name).waiters

    def depth(self, name: str) -> int:
        """How many messages are visible now (ApproximateNumberOfMessages)."""
        queue = self._queue(name)
        self._settle(queue, self.clock.time())
        return queue.counts[0]

    async def delete(self, name: str, receipt_handle: str) -> None:
        """Delete the message ``receipt_handle`` was given for; once committed, it never comes
        back. Deleting a message already gone is not an error (as SQS).
        ReceiptHandleIsInvalid for a handle that is not one of this queue's."""
        [error] = await self.delete_messages(name, [receipt_handle])
        if error is not None:
            raise error

    async def delete_messages(
        self, name: str, receipt_handles: Sequence[str]
    ) -> list[QueueError | None]:
        queue = self._queue(name)
        outcomes: list[QueueError | None] = []
        rows: list[int] = []
        for handle in receipt_handles:
            try:
                receipt = receiving.receipt_of(queue, handle)
            except QueueError as error:
                outcomes.append(error)
                continue
            outcomes.append(None)
            message = queue.messages.get(receipt.row_id)
            if message is not None:
                queue.remove(message)
                rows.append(message.row_id)
        if rows:
            await self._write(lambda c: storage.delete_messages(c, rows))
        return outcomes

    async def change_visibility(self, name: str, receipt_handle: str, timeout_s: int) -> None:
        """Hide the received message ``receipt_handle`` names for ``timeout_s`` seconds from now
        (0: visible at once). InvalidParameterValue if it is gone or was received again since,
        MessageNotInflight if it is visible."""
        [error] = await self.change_visibility_of(name, [(receipt_handle, timeout_s)])
        if error is not None:
            raise error

    async def change_visibility_of(
        self, name: str, changes: Sequence[tuple[str, int | None]]
    ) -> list[QueueError | None]:
        queue = self._queue(name)
        now = self.clock.time()
        self._settle(queue, now)
        outcomes: list[QueueError | None] = []
        rows: list[tuple[float, int]] = []
        for handle, timeout_s in changes:
            try:
                timeout_s = receiving.check_range(
                    "VisibilityTimeout", timeout_s, 0, receiving.MAX_VISIBILITY_S
                )
                message = receiving.in_flight(queue, handle)
            except QueueError as error:
                outcomes.append(error)
                continue
            outcomes.append(None)
            if timeout_s == 0:
                queue.show(message, now)
            else:
                queue.hide(message, now + timeout_s)
            rows.append((message.visible_at, message.row_id))
        if rows:
            await self._write(lambda c: storage.set_visible_at(c, rows))
        return outcomes

    # -- plumbing ------------------------------------------------------------------------------

    def _settle(self, queue: QueueState, now: float) -> None:
        expired = queue.settle(now)
        if expired:
            self._expired.extend(message.row_id for message in expired)
        if queue.deduplication.prune(now):
            self._deduplication_pruned = True

    async def _write(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Queue ``job`` (with the deletes of expired messages and deduplication ids) and wait
        for its commit. Call it right after the change in memory it records: it queues before
        its first await."""
        if self._closing:
            raise QueuesClosed("gureum is shutting down")
        if not self._expired and not self._deduplication_pruned:
            return await self._db.run(job)
        expired, self._expired = self._expired, []
        forget_before = self.clock.time() if self._deduplication_pruned else None
        self._deduplication_pruned = False

        def with_expiries(conn: sqlite3.Connection) -> T:
            storage.delete_messages(conn, expired)
            if forget_before is not None:
                storage.forget_deduplication(conn, forget_before)
            return job(conn)

        return await self._db.run(with_expiries)
