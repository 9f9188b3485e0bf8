"""The durable queue of asynchronous invocations, and their delivery settings (events.db).

An event is a row from the moment it is accepted until it is delivered or given up on; its
outcome (a destination's event, a retry) is written in the same transaction that removes or
reschedules it, so a crash between the two cannot lose or duplicate what follows.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .db import GroupCommitDb
from .invoke_config import EventInvokeConfig

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE events (
            id              INTEGER PRIMARY KEY,
            function        TEXT NOT NULL,
            qualifier       TEXT,
            payload         BLOB NOT NULL,
            request_id      TEXT NOT NULL,
            accepted_at     REAL NOT NULL,
            due_at          REAL NOT NULL,
            attempts        INTEGER NOT NULL DEFAULT 0,
            function_errors INTEGER NOT NULL DEFAULT 0,
            leased          INTEGER NOT NULL DEFAULT 0
        )
        """,
        "CREATE INDEX events_due ON events (leased, due_at)",
        "CREATE INDEX events_function ON events (function, accepted_at)",
        """
        CREATE TABLE counters (
            function  TEXT PRIMARY KEY,
            retries   INTEGER NOT NULL DEFAULT 0,
            succeeded INTEGER NOT NULL DEFAULT 0,
            failed    INTEGER NOT NULL DEFAULT 0,
            dropped   INTEGER NOT NULL DEFAULT 0
        )
        """,
        """
        CREATE TABLE invoke_configs (
            function  TEXT NOT NULL,
            qualifier TEXT NOT NULL,
            config    TEXT NOT NULL,
            PRIMARY KEY (function, qualifier)
        )
        """,
    ),
    (
        # last_tick is the schedule's state: written with the event it fired, in one commit.
        """
        CREATE TABLE schedules (
            grp       TEXT NOT NULL,
            name      TEXT NOT NULL,
            config    TEXT NOT NULL,
            last_tick REAL,
            PRIMARY KEY (grp, name)
        )
        """,
    ),
    (
        """
        CREATE TABLE event_source_mappings (
            uuid   TEXT PRIMARY KEY,
            config TEXT NOT NULL
        )
        """,
    ),
)

OUTCOMES = ("succeeded", "failed", "dropped")


@dataclass(frozen=True, slots=True)
class NewEvent:
    function: str
    qualifier: str | None
    payload: bytes
    request_id: str


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    id: int
    function: str
    qualifier: str | None
    payload: bytes
    request_id: str
    accepted_at: float  # wall clock, epoch seconds
    attempts: int  # invocations begun so far, whatever their outcome
    function_errors: int  # of those, how many the function failed (retries spent + 1)


@dataclass(frozen=True, slots=True)
class QueueStats:
    depth: int
    oldest_age_s: float | None
    retries: int
    succeeded: int
    failed: int
    dropped: int


class EventQueue:
    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.db = GroupCommitDb(path, MIGRATIONS, fsync=fsync)

    async def start(self) -> None:
        await self.db.start()
        # Leases belong to the process that took them: after a restart, whatever was in flight
        # is delivered again (at least once).
        await self.db.run(lambda c: c.execute("UPDATE events SET leased = 0 WHERE leased = 1"))

    async def aclose(self) -> None:
        await self.db.aclose()

    async def accept(self, event: NewEvent, now: float) -> None:
        """Returns once the event is committed."""
        await self.db.run(lambda c: insert_event(c, event, now))

    async def lease_due(self, now: float, limit: int) -> list[QueuedEvent]:
        """Up to ``limit`` events due by ``now``, oldest first, leased to this process."""

        def lease(conn: sqlite3.Connection) -> list[QueuedEvent]:
            rows = conn.execute(
                "SELECT id, function, qualifier, payload, request_id, accepted_at, attempts,"
                " function_errors FROM events WHERE leased = 0 AND due_at <= ?"
                " ORDER BY due_at LIMIT ?",
                (now, limit),
            ).fetchall()
            conn.executemany("UPDATE events SET leased = 1 WHERE id = ?", [(r[0],) for r in rows])
            return [QueuedEvent(*row) for row in rows]

        return await self.db.run(lease)

    async def next_due(self) -> float | None:
        def earliest(conn: sqlite3.Connection) -> float | None:
            row = conn.execute("SELECT min(due_at) FROM events WHERE leased = 0").fetchone()
            return None if row[0] is None else float(row[0])

        return await self.db.run(earliest)

    async def finish(
        self, event: QueuedEvent, outcome: str, follow_ups: list[NewEvent], now: float
    ) -> None:
        """The event is done with (``outcome`` one of OUTCOMES); ``follow_ups`` (destination and
        dead-letter events) are queued in the same transaction."""
        assert outcome in OUTCOMES

        def finish(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM events WHERE id = ?", (event.id,))
            for follow_up in follow_ups:
                insert_event(conn, follow_up, now)
            _count(conn, event.function, outcome)

        await self.db.run(finish)

    async def retry_at(
        self, event: QueuedEvent, due_at: float, *, function_error: bool, count_retry: bool
    ) -> None:
        def reschedule(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE events SET due_at = ?, leased = 0, attempts = attempts + 1,"
                " function_errors = function_errors + ? WHERE id = ?",
                (due_at, int(function_error), event.id),
            )
            if count_retry:
                _count(conn, event.function, "retries")

        await self.db.run(reschedule)

    async def stats(self, function: str, now: float) -> QueueStats:
        def select(conn: sqlite3.Connection) -> QueueStats:
            depth, oldest = conn.execute(
                "SELECT count(*), min(accepted_at) FROM events WHERE function = ?", (function,)
            ).fetchone()
            counts = conn.execute(
                "SELECT retries, succeeded, failed, dropped FROM counters WHERE function = ?",
                (function,),
            ).fetchone() or (0, 0, 0, 0)
            age = None if oldest is None else max(0.0, now - oldest)
            return QueueStats(depth, age, *counts)

        return await self.db.run(select)

    async def forget_function(self, function: str) -> None:
        """A deleted function's queued events, counters and settings go with it (as on Lambda)."""

        def forget(conn: sqlite3.Connection) -> None:
            for table in ("events", "counters", "invoke_configs"):
                # The table name is one of ours, never input.
                conn.execute(f"DELETE FROM {table} WHERE function = ?", (function,))

        await self.db.run(forget)

    # -- delivery settings (Put/Get/Update/Delete/ListFunctionEventInvokeConfig) ---------------

    async def load_invoke_configs(self) -> list[EventInvokeConfig]:
        def select(conn: sqlite3.Connection) -> list[EventInvokeConfig]:
            rows = conn.execute("SELECT config FROM invoke_configs").fetchall()
            return [EventInvokeConfig.from_json(row[0]) for row in rows]

        return await self.db.run(select)

    async def put_invoke_config(self, config: EventInvokeConfig) -> None:
        await self.db.run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO invoke_configs (function, qualifier, config)"
                " VALUES (?, ?, ?)",
                (config.function, config.qualifier, config.to_json()),
            )
        )

    async def delete_invoke_config(self, function: str, qualifier: str) -> None:
        await self.db.run(
            lambda c: c.execute(
                "DELETE FROM invoke_configs WHERE function = ? AND qualifier = ?",
                (function, qualifier),
            )
        )


def insert_event(conn: sqlite3.Connection, event: NewEvent, now: float) -> None:
    conn.execute(
        "INSERT INTO events (function, qualifier, payload, request_id, accepted_at, due_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (event.function, event.qualifier, event.payload, event.request_id, now, now),
    )


def _count(conn: sqlite3.Connection, function: str, column: str) -> None:
    conn.execute("INSERT OR IGNORE INTO counters (function) VALUES (?)", (function,))
    # The column is one of ours (OUTCOMES or "retries"), never input.
    conn.execute(f"UPDATE counters SET {column} = {column} + 1 WHERE function = ?", (function,))
