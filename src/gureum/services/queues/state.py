"""One queue in memory: its messages, which of them are visible, and who waits for them.

Every message is in exactly one state: ``READY`` (visible), ``INFLIGHT`` (received, hidden until
its visibility timeout ends) or ``DELAYED`` (sent with a delay, not yet visible). Three heaps
order them: visible messages by send order, hidden ones by the time they become visible, all by
send time for retention. Heap entries are never removed in place: an entry whose message has
moved on (its ``gen`` changed) is skipped when it surfaces. ``settle(now)`` applies the passage
of time; every operation calls it first, so there is no timer per message.

A FIFO queue also keeps each message group's messages in order and counts those in flight: a
group gives nothing while one of its messages is in flight (``pick``).
"""

from __future__ import annotations

import asyncio
import heapq
from dataclasses import dataclass, field

from .attributes import QueueSettings
from .fifo import Deduplication
from .messages import Attributes

READY, INFLIGHT, DELAYED = 0, 1, 2
NONE = -1  # not (or no longer) in a queue


@dataclass(slots=True, eq=False)
class Stored:
    """A message as the queue keeps it (mutable; only the queue changes it)."""

    row_id: int  # its row in queues.db, also its place in send order
    message_id: str
    body: str
    md5_of_body: str
    message_attributes: Attributes
    md5_of_message_attributes: str | None
    system: dict[str, str]  # SenderId, and AWSTraceHeader, DeadLetterQueueSourceArn, FIFO ids
    sent_at: float
    visible_at: float
    receive_count: int = 0
    first_received_at: float | None = None
    state: int = -1  # NONE until a queue adds it
    gen: int = 0  # bumped on every change of state: older heap entries are stale

    @property
    def group_id(self) -> str | None:
        return self.system.get("MessageGroupId")


@dataclass(slots=True, eq=False)
class QueueState:
    id: int
    name: str
    arn: str
    attributes: dict[str, str]  # the settable ones, normalised (attributes.py)
    tags: dict[str, str]
    created_at: float
    modified_at: float
    settings: QueueSettings = field(init=False)
    messages: dict[int, Stored] = field(default_factory=dict)
    counts: list[int] = field(default_factory=lambda: [0, 0, 0])  # by state
    deleted: bool = False
    sequence: int = 0  # FIFO: the last sequence number handed out
    deduplication: Deduplication = field(default_factory=Deduplication)
    _ready: list[tuple[int, int, Stored]] = field(default_factory=list)
    _hidden: list[tuple[float, int, int, Stored]] = field(default_factory=list)
    _by_age: list[tuple[float, int, Stored]] = field(default_factory=list)
    # FIFO queues: each group's messages in order, and how many of each are in flight.
    _groups: dict[str, dict[int, Stored]] = field(default_factory=dict)
    _locked: dict[str, int] = field(default_factory=dict)
    _arrival: asyncio.Event | None = None
    waiters: int = 0  # long polls and pollers waiting for a message now

    def __post_init__(self) -> None:
        self.settings = QueueSettings.of(self.attributes)

    def configure(self, attributes: dict[str, str], now: float) -> None:
        self.attributes = attributes
        self.settings = QueueSettings.of(attributes)
        self.modified_at = now

    # -- membership ----------------------------------------------------------------------------

    def add(self, message: Stored, now: float) -> None:
        """A new (or moved-in) message; its visible_at and receive_count say its state."""
        self.messages[message.row_id] = message
        heapq.heappush(self._by_age, (message.sent_at, message.row_id, message))
        if self.settings.fifo:
            self._groups.setdefault(message.group_id or "", {})[message.row_id] = message
        message.state = NONE
        if message.visible_at <= now:
            self._enter(message, READY)
        else:
            self._enter(message, INFLIGHT if message.receive_count else DELAYED)

    def remove(self, message: Stored) -> None:
        del self.messages[message.row_id]
        self._leave(message)
        message.state = NONE
        message.gen += 1
        if self.settings.fifo:
            group = message.group_id or ""
            members = self._groups[group]
            del members[message.row_id]
            if not members:
                del self._groups[group]
        self._compact()

    def clear(self) -> list[int]:
        rows = list(self.messages)
        for message in self.messages.values():
            message.gen += 1
        self.messages.clear()
        self.counts = [0, 0, 0]
        self._ready.clear()
        self._hidden.clear()
        self._by_age.clear()
        self._groups.clear()
        self._locked.clear()
        return rows

    # -- time ----------------------------------------------------------------------------------

    def settle(self, now: float) -> list[Stored]:
        """Apply time up to ``now``: hidden messages whose time came become visible, messages
        past the retention period go. Returns those that went."""
        expired: list[Stored] = []
        limit = now - self.settings.retention_s
        by_age = self._by_age
        while by_age and by_age[0][0] <= limit:
            _, row_id, message = heapq.heappop(by_age)
            if self.messages.get(row_id) is message:
                self.remove(message)
                expired.append(message)
        hidden = self._hidden
        woke = False
        while hidden and hidden[0][0] <= now:
            _, _, gen, message = heapq.heappop(hidden)
            if message.gen == gen:
                self._enter(message, READY)
                woke = True
        if woke:
            self.notify()
        return expired

    def next_visible_at(self) -> float | None:
        """When the next hidden message becomes visible (None if none is hidden)."""
        hidden = self._hidden
        while hidden and hidden[0][3].gen != hidden[0][2]:
            heapq.heappop(hidden)
        return hidden[0][0] if hidden else None

    # -- receiving -----------------------------------------------------------------------------

    def pick(self, limit: int) -> list[Stored]:
        """Up to ``limit`` visible messages to deliver next, in order. They stay READY: the
        caller hides (receives) or removes (redrives) each of them at once."""
        if self.settings.fifo:
            return self._pick_by_group(limit)
        picked: list[Stored] = []
        ready = self._ready
        while ready and len(picked) < limit:
            _, gen, message = heapq.heappop(ready)
            if message.gen == gen:
                picked.append(message)
        return picked

    def _pick_by_group(self, limit: int) -> list[Stored]:
        """FIFO: a group whose earlier message is in flight gives nothing; an open group gives
        its visible messages in order, up to the first one that is not visible."""
        heads = []
        for group, members in self._groups.items():
            if group not in self._locked:
                head = next(iter(members.values()))
                if head.state == READY:
                    heads.append((head.row_id, group))
        picked: list[Stored] = []
        for _, group in sorted(heads):
            for message in self._groups[group].values():
                if message.state != READY or len(picked) == limit:
                    break
                picked.append(message)
            if len(picked) == limit:
                break
        return picked

    def hide(self, message: Stored, until: float) -> None:
        """A received message (or one whose visibility changed) is hidden until ``until``."""
        message.visible_at = until
        self._enter(message, INFLIGHT)

    def show(self, message: Stored, now: float) -> None:
        message.visible_at = now
        self._enter(message, READY)
        self.notify()

    def _enter(self, message: Stored, state: int) -> None:
        self._leave(message)
        message.gen += 1
        message.state = state
        self.counts[state] += 1
        if state == READY:
            heapq.heappush(self._ready, (message.row_id, message.gen, message))
        else:
            heapq.heappush(self._hidden, (message.visible_at, message.row_id, message.gen, message))
            if state == INFLIGHT and self.settings.fifo:
                group = message.group_id or ""
                self._locked[group] = self._locked.get(group, 0) + 1
        self._compact()

    def _leave(self, message: Stored) -> None:
        if message.state == NONE:
            return
        self.counts[message.state] -= 1
        if message.state == INFLIGHT and self.settings.fifo:
            group = message.group_id or ""
            if self._locked[group] == 1:
                del self._locked[group]
            else:
                self._locked[group] -= 1

    def _compact(self) -> None:
        """Drop stale heap entries once they outnumber the live ones (they hold bodies). In
        place: settle() may be walking the same list."""
        live = len(self.messages) + 64
        if len(self._ready) > 2 * live:
            self._ready[:] = [entry for entry in self._ready if entry[2].gen == entry[1]]
            heapq.heapify(self._ready)
        if len(self._hidden) > 2 * live:
            self._hidden[:] = [entry for entry in self._hidden if entry[3].gen == entry[2]]
            heapq.heapify(self._hidden)
        if len(self._by_age) > 2 * live:
            messages = self.messages
            self._by_age[:] = [e for e in self._by_age if messages.get(e[1]) is e[2]]
            heapq.heapify(self._by_age)

    # -- waiting -------------------------------------------------------------------------------

    def notify(self) -> None:
        """Wake everyone waiting for a message of this queue."""
        if self._arrival is not None:
            self._arrival.set()
            self._arrival = None

    async def wait(self, timeout_s: float) -> None:
        """Until ``notify()`` or ``timeout_s`` seconds (of real time) have passed."""
        if self._arrival is None:
            self._arrival = asyncio.Event()
        arrival = self._arrival
        self.waiters += 1
        try:
            async with asyncio.timeout(timeout_s):
                await arrival.wait()
        except TimeoutError:
            pass
        finally:
            self.waiters -= 1
