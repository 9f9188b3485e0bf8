"""Schedules: invoke a function asynchronously at the ticks of a rate(), cron() or at().

A tick fires by queueing an asynchronous invocation (so retries, destinations and dead letters
apply) in the same transaction that records it as the schedule's last tick: a tick is never
fired twice, also across a crash. After downtime, the ticks missed fire at most once: the
latest of them, or none with ``catch_up="skip"``. Shortly before a tick the target gets a warm
instance (predictive warm-up), so a scheduled invocation does not pay a cold start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ..clock import Clock
from ..errors import GureumError
from . import expressions
from .invoke_config import is_queue, parse_destination
from .queue import EventQueue, NewEvent, insert_event

log = logging.getLogger("gureum.events")

# The only tick due, seen this late, is still on time (the loop woke late): not missed.
ON_TIME_S = 60.0
# Ticks looked at per schedule and pass, at most: bounds a pass after years of downtime.
MAX_TICKS_PER_PASS = 100_000
CATCH_UP = ("once", "skip")
STATES = ("ENABLED", "DISABLED")


class ValidationException(GureumError):
    error_type = "ValidationException"
    status = 400


class ScheduleNotFound(GureumError):
    error_type = "ResourceNotFoundException"
    status = 404


class ConflictException(GureumError):
    error_type = "ConflictException"
    status = 409


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    expression: str
    target_arn: str  # a function's ARN, optionally qualified
    group: str = "default"
    timezone: str = "UTC"
    input: str | None = None  # the payload; None: EventBridge's "Scheduled Event"
    state: str = "ENABLED"
    catch_up: str = "once"  # after downtime: fire the latest missed tick "once", or "skip"
    description: str = ""
    start: float | None = None  # no tick before (epoch seconds)
    end: float | None = None  # no tick after
    delete_after_completion: bool = False
    created: float = 0.0
    modified: float = 0.0
    # What the Scheduler API takes and gives back but gureum does not act on (RetryPolicy,
    # FlexibleTimeWindow, RoleArn ...): kept, so a Get shows what was put.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return self.group, self.name


@dataclass(slots=True)
class _Entry:
    schedule: Schedule
    parsed: expressions.Schedule
    zone: Any
    last_tick: float | None
    next_tick: float | None = None
    warmed_for: float | None = None


Prewarm = Callable[[str, str | None], Awaitable[object]]


class Schedules:
    def __init__(
        self,
        queue: EventQueue,
        notify_delivery: Callable[[], None],
        clock: Clock,
        *,
        region: str,
        account: str,
        check_target: Callable[[str, str | None], object],
        prewarm: Prewarm | None = None,
        warm_lead_s: float = 2.0,
    ) -> None:
        self.queue = queue
        self.notify_delivery = notify_delivery
        self.clock = clock
        self.region = region
        self.account = account
        self.check_target = check_target
        self.prewarm = prewarm
        self.warm_lead_s = warm_lead_s
        self.entries: dict[tuple[str, str], _Entry] = {}
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._warming: set[asyncio.Task[object]] = set()

    async def start(self) -> None:
        rows = await self.queue.db.run(
            lambda c: c.execute("SELECT config, last_tick FROM schedules").fetchall()
        )
        for config, last_tick in rows:
            schedule = Schedule(**json.loads(config))
            # Not checked against the functions: a deleted target's ticks are dropped at delivery.
            self.entries[schedule.key] = self._entry(schedule, last_tick, check=False)
        self._task = asyncio.create_task(self._run())

    async def aclose(self) -> None:
        for task in (self._task, *self._warming):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    # -- management -------------------------------------------------------------------------

    def arn(self, schedule: Schedule) -> str:
        prefix = f"arn:aws:scheduler:{self.region}:{self.account}"
        return f"{prefix}:schedule/{schedule.group}/{schedule.name}"

    async def put(self, schedule: Schedule, *, create: bool) -> Schedule:
        """Create (ConflictException if it exists) or replace (ScheduleNotFound if it does not)."""
        entry = self._entry(schedule, None)  # validates
        async with self._lock:
            current = self.entries.get(schedule.key)
            if create and current is not None:
                raise ConflictException(f"Schedule {schedule.name} already exists.")
            if not create and current is None:
                raise self._missing(schedule.group, schedule.name)
            now = self.clock.time()
            created = now if current is None else current.schedule.created
            schedule = replace(schedule, created=created, modified=now)
            # A changed schedule starts afresh from now: no catching up on its old ticks.
            entry = self._entry(schedule, now)
            config = json.dumps(asdict(schedule))
            await self.queue.db.run(
                lambda c: c.execute(
                    "INSERT OR REPLACE INTO schedules (grp, name, config, last_tick)"
                    " VALUES (?, ?, ?, ?)",
                    (schedule.group, schedule.name, config, now),
                )
            )
            self.entries[schedule.key] = entry
        self._wake.set()
        return schedule

    def get(self, group: str, name: str) -> Schedule:
        entry = self.entries.get((group, name))
        if entry is None:
            raise self._missing(group, name)
        return entry.schedule

    def list(self, group: str | None = None) -> list[Schedule]:
        return sorted(
            (e.schedule for e in self.entries.values() if group in (None, e.schedule.group)),
            key=lambda s: s.key,
        )

    def next_tick(self, group: str, name: str) -> float | None:
        entry = self.entries.get((group, name))
        return None if entry is None or entry.schedule.state != "ENABLED" else entry.next_tick

    async def delete(self, group: str, name: str) -> None:
        async with self._lock:
            if (group, name) not in self.entries:
                raise self._missing(group, name)
            await self.queue.db.run(
                lambda c: c.execute(
                    "DELETE FROM schedules WHERE grp = ? AND name = ?", (group, name)
                )
            )
            del self.entries[group, name]

    def _missing(self, group: str, name: str) -> ScheduleNotFound:
        return ScheduleNotFound(f"Schedule {name} does not exist in group {group}.")

    def _entry(self, schedule: Schedule, last_tick: float | None, check: bool = True) -> _Entry:
        try:
            parsed = expressions.parse(schedule.expression)
            zone = expressions.zone(schedule.timezone)
        except expressions.ScheduleExpressionError as error:
            raise ValidationException(str(error)) from error
        if schedule.state not in STATES:
            raise ValidationException(f"State must be one of {', '.join(STATES)}")
        if schedule.catch_up not in CATCH_UP:
            raise ValidationException(f"catch_up must be one of {', '.join(CATCH_UP)}")
        function, qualifier = self.target_of(schedule)
        if check:
            self.check_target(function, qualifier)
        entry = _Entry(schedule, parsed, zone, last_tick)
        entry.next_tick = self._after(entry, last_tick)
        return entry

    def target_of(self, schedule: Schedule) -> tuple[str, str | None]:
        try:
            target = parse_destination(schedule.target_arn, self.region, self.account)
        except GureumError as error:
            raise ValidationException(
                f"Target {schedule.target_arn} is not a function of this gureum: {error.message}"
            ) from error
        if is_queue(target.function):
            raise ValidationException(
                f"Target {schedule.target_arn} is a queue: gureum's schedules invoke functions"
            )
        return target.function, target.qualifier

    def _after(self, entry: _Entry, instant: float | None) -> float | None:
        """The first tick after ``instant`` within the schedule's start and end."""
        schedule = entry.schedule
        after = instant if instant is not None else schedule.created
        if schedule.start is not None:
            after = max(after, schedule.start - 1)
        tick = entry.parsed.next_after(after, tz=entry.zone, anchor=schedule.created)
        if tick is None or (schedule.end is not None and tick > schedule.end):
            return None
        return tick

    # -- firing -----------------------------------------------------------------------------

    async def tick(self) -> int:
        """Fire every schedule whose tick has come by the clock's time; returns how many
        events were queued (tests on a manual clock call this after moving it)."""
        fired = 0
        async with self._lock:
            now = self.clock.time()
            for entry in list(self.entries.values()):
                if entry.schedule.state != "ENABLED":
                    continue
                if entry.next_tick is not None and entry.next_tick <= now:
                    fired += await self._fire(entry, now)
        if fired:
            self.notify_delivery()
        return fired

    async def _fire(self, entry: _Entry, now: float) -> int:
        latest, tick, seen = None, entry.next_tick, 0
        while tick is not None and tick <= now and seen < MAX_TICKS_PER_PASS:
            latest, seen = tick, seen + 1
            tick = self._after(entry, tick)
        assert latest is not None
        schedule = entry.schedule
        # Several ticks due at once, or one long past: gureum was down, not merely late.
        on_time = seen == 1 and now - latest <= ON_TIME_S
        fire = on_time or schedule.catch_up == "once"
        event = self._event(schedule, latest) if fire else None
        finished = tick is None and schedule.delete_after_completion

        def record(conn: sqlite3.Connection) -> None:
            if event is not None:
                insert_event(conn, event, now)
            if finished:
                conn.execute(
                    "DELETE FROM schedules WHERE grp = ? AND name = ?",
                    (schedule.group, schedule.name),
                )
            else:
                conn.execute(
                    "UPDATE schedules SET last_tick = ? WHERE grp = ? AND name = ?",
                    (latest, schedule.group, schedule.name),
                )

        await self.queue.db.run(record)
        entry.last_tick, entry.next_tick = latest, tick
        if finished:
            del self.entries[schedule.key]
        if not on_time:
            log.info(
                "schedule %s: %d tick(s) missed while down; %s",
                schedule.name,
                seen,
                "fired the latest once" if fire else "skipped",
            )
        return int(fire)

    def _event(self, schedule: Schedule, tick: float) -> NewEvent:
        function, qualifier = self.target_of(schedule)
        if schedule.input is not None:
            payload = schedule.input.encode()
        else:
            arn = self.arn(schedule)
            payload = json.dumps(
                {
                    "version": "0",
                    # The same tick always gets the same id: a consumer can tell a repeat.
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{arn}#{tick:.0f}")),
                    "detail-type": "Scheduled Event",
                    "source": "aws.scheduler",
                    "account": self.account,
                    "time": datetime.fromtimestamp(tick, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "region": self.region,
                    "resources": [arn],
                    "detail": {},
                }
            ).encode()
        request_id = str(uuid.uuid4())
        return NewEvent(function, qualifier, payload, request_id)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.tick()
                self._start_warm_ups()
            except Exception:
                log.exception("schedules: a pass failed; trying again")
            now = self.clock.time()
            upcoming = [
                t
                for e in self.entries.values()
                if e.schedule.state == "ENABLED" and e.next_tick is not None
                for t in (e.next_tick - self.warm_lead_s, e.next_tick)
                if t > now
            ]
            timeout = max(0.0, min(upcoming) - now) if upcoming else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def warm_up(self) -> None:
        """Warm the targets of the ticks due within the lead time, and wait until they are
        (tests on a manual clock call this)."""
        self._start_warm_ups()
        if self._warming:
            await asyncio.wait(list(self._warming))

    def _start_warm_ups(self) -> None:
        """Warm each target whose tick is due within the lead time, once per tick."""
        if self.prewarm is None:
            return
        now = self.clock.time()
        for entry in self.entries.values():
            tick = entry.next_tick
            if entry.schedule.state != "ENABLED" or tick is None or entry.warmed_for == tick:
                continue
            if tick - self.warm_lead_s <= now:
                entry.warmed_for = tick
                function, qualifier = self.target_of(entry.schedule)
                task = asyncio.create_task(self._prewarm(function, qualifier))
                self._warming.add(task)
                task.add_done_callback(self._warming.discard)

    async def _prewarm(self, function: str, qualifier: str | None) -> object:
        assert self.prewarm is not None
        try:
            return await self.prewarm(function, qualifier)
        except GureumError as error:
            log.info("could not warm %s ahead of its schedule: %s", function, error.message)
            return None
