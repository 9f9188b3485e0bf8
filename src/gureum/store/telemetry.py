"""Per-invocation log lines and metering records: buffered in memory, written to SQLite in batches.

All SQLite work runs on one dedicated thread, in submission order, even when the awaiting
coroutine is cancelled (to_thread plus a lock cannot promise that); so "flush, then query" is
consistent without a lock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from ..clock import Clock, SystemClock
from ..types import FunctionStats, InvocationRecord, LogLine

logger = logging.getLogger(__name__)
T = TypeVar("T")


_FIELDS = tuple(f.name for f in fields(InvocationRecord))
_RECORD_COLUMNS = ", ".join(_FIELDS)
_Line = tuple[str, float, str, str]  # function, timestamp, request_id, message
_NOT_OPEN = "Telemetry is not started (or already closed)"

# The invocations columns follow InvocationRecord: the dataclass is their one definition.
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS invocations (id INTEGER PRIMARY KEY, {_RECORD_COLUMNS});
CREATE INDEX IF NOT EXISTS invocations_function_time ON invocations (function, timestamp);
CREATE TABLE IF NOT EXISTS logs (id INTEGER PRIMARY KEY, function TEXT NOT NULL,
    timestamp REAL NOT NULL, request_id TEXT NOT NULL, message TEXT NOT NULL, size INTEGER);
CREATE INDEX IF NOT EXISTS logs_function_time ON logs (function, timestamp);
-- With function in front, a request id lookup beats the time index in the planner's eyes.
CREATE INDEX IF NOT EXISTS logs_request ON logs (function, request_id, timestamp);
-- Running totals, so retention never has to SUM() a function's whole log on each flush.
CREATE TABLE IF NOT EXISTS usage (function TEXT PRIMARY KEY, log_bytes INTEGER, records INTEGER);
"""
_ADD_RECORD = f"INSERT INTO invocations ({_RECORD_COLUMNS}) VALUES ({','.join('?' * len(_FIELDS))})"
_ADD_LINE = "INSERT INTO logs (function, timestamp, request_id, message, size) VALUES (?,?,?,?,?)"
# One pass for everything but the percentiles; NULL averages when nothing matches.
_STATS = """SELECT COUNT(*), COUNT(error_type), COALESCE(SUM(cold_start), 0),
    AVG(init_duration_ms), AVG(instance_wait_ms), COALESCE(SUM(billed_duration_ms), 0),
    TOTAL(gb_seconds), TOTAL(cost_usd) FROM invocations WHERE """


class Telemetry:
    """Log and metering store. Call ``record()`` from the event loop thread only.

    Past ``max_buffered_lines`` the oldest buffered lines give way (``dropped_lines``); records
    likewise past ``max_buffered_records``, reached only while writes stall. A failed batch counts
    too."""

    def __init__(
        self,
        db_path: Path,
        *,
        clock: Clock | None = None,
        log_retention_bytes: int = 64 * 1024 * 1024,  # per function; oldest lines go first
        record_retention: int = 1_000_000,  # invocation records per function
        flush_interval: float = 0.2,
        flush_batch: int = 256,
        max_buffered_lines: int = 100_000,
        max_buffered_records: int = 100_000,
    ) -> None:
        self._db_path = db_path
        self._clock = clock or SystemClock()
        self._log_retention = log_retention_bytes
        self._record_retention = record_retention
        self._flush_interval = flush_interval
        self._flush_batch = flush_batch
        self._max_lines, self._max_records = max_buffered_lines, max_buffered_records
        self._records: deque[InvocationRecord] = deque(maxlen=max_buffered_records)
        self._lines: deque[_Line] = deque(maxlen=max_buffered_lines)
        self._wake = asyncio.Event()
        self._written = asyncio.Condition()
        self._closing = False
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._conn: sqlite3.Connection | None = None  # used on the executor's thread only
        self.dropped_lines = self.dropped_records = self.records_written = 0
        self.last_flush_at: float | None = None  # clock.time() of the last successful write

    async def start(self) -> None:
        """Open (or create) the database in WAL mode and start the background flusher."""
        if self._executor is not None:
            raise RuntimeError("Telemetry can be started once")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gureum-telemetry")
        try:
            await self._run(self._open)
        except BaseException:
            self._closing = True  # nothing for aclose() to do
            self._executor.shutdown()
            raise
        self._task = asyncio.create_task(self._flush_periodically(), name="telemetry-flusher")

    async def aclose(self) -> None:
        """Write everything buffered, stop the flusher and close the database. Idempotent.
        Raises what the final write raises; the database is closed either way."""
        if self._executor is None or self._closing:
            return
        self._closing = True
        self._wake.set()
        try:
            if self._task is not None:
                await self._task
            await self.flush()
        finally:
            await self._run(self._close)
            self._executor.shutdown()  # its only thread is idle now, so this returns at once

    def record(self, record: InvocationRecord, lines: Sequence[tuple[float, str]]) -> None:
        """Buffer one invocation's record and its (timestamp, text) log lines. Never blocks
        and never raises for a full buffer: the oldest buffered entries give way."""
        if len(self._records) == self._max_records:
            self.dropped_records += 1
        self._records.append(record)
        for timestamp, text in lines:
            if len(self._lines) == self._max_lines:
                self.dropped_lines += 1
            self._lines.append((record.function, timestamp, record.request_id, text))
        # Lines wake the flusher too, at half capacity, so a chatty function's output is
        # written before it starts being dropped.
        if len(self._records) >= self._flush_batch or len(self._lines) * 2 >= self._max_lines:
            self._wake.set()

    async def flush(self) -> None:
        """Write everything buffered now. Raises what SQLite raises (that batch is dropped)."""
        if self._conn is None:
            raise RuntimeError(_NOT_OPEN)
        records, self._records = self._records, deque(maxlen=self._max_records)
        lines, self._lines = self._lines, deque(maxlen=self._max_lines)
        try:
            # Submitted even when empty: waiting for it also waits for a write in flight.
            await self._run(partial(self._write, records, lines))
        except Exception:
            self.dropped_records += len(records)
            self.dropped_lines += len(lines)
            raise
        self.records_written += len(records)
        self.last_flush_at = self._clock.time()
        async with self._written:
            self._written.notify_all()

    async def wait_written(self, records: int) -> None:
        """Wait until at least ``records`` invocation records have been written in total."""
        async with self._written:
            await self._written.wait_for(lambda: self.records_written >= records)

    async def logs(
        self,
        function: str,
        *,
        start: float | None = None,
        end: float | None = None,
        request_id: str | None = None,
        limit: int = 1000,
    ) -> list[LogLine]:
        """Lines with ``start <= timestamp < end``, oldest first, ties in arrival order."""
        where, args = _where(function, start, end)
        if request_id is not None:
            where, args = f"{where} AND request_id = ?", [*args, request_id]
        sql = f"SELECT timestamp, request_id, message FROM logs WHERE {where}"
        rows = await self._query(f"{sql} ORDER BY timestamp, id LIMIT ?", [*args, limit])
        return [LogLine(*row) for row in rows]

    async def records(
        self, function: str, *, since: float | None = None, limit: int = 1000
    ) -> list[InvocationRecord]:
        """Records that started at or after ``since``, oldest first."""
        where, args = _where(function, since, None)
        sql = f"SELECT {_RECORD_COLUMNS} FROM invocations WHERE {where}"
        rows = await self._query(f"{sql} ORDER BY timestamp, id LIMIT ?", [*args, limit])
        return [_record_from_row(row) for row in rows]

    async def stats(self, function: str, *, since: float | None = None) -> FunctionStats:
        """Aggregates over the records that started at or after ``since``."""
        await self.flush()
        return await self._run(partial(self._select_stats, function, since))

    async def delete_function(self, function: str) -> None:
        """Forget a function's logs and records, including those still buffered."""
        if self._conn is None:
            raise RuntimeError(_NOT_OPEN)
        kept = [r for r in self._records if r.function != function]
        self._records = deque(kept, self._max_records)
        self._lines = deque((ln for ln in self._lines if ln[0] != function), self._max_lines)
        await self._run(partial(self._delete, function))

    async def _flush_periodically(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._flush_interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                logger.exception("telemetry write failed; batch dropped")

    async def _run(self, job: Callable[[], T]) -> T:
        assert self._executor is not None
        return await asyncio.get_running_loop().run_in_executor(self._executor, job)

    async def _query(self, sql: str, args: list[Any]) -> list[Any]:
        await self.flush()
        return await self._run(lambda: self._db().execute(sql, args).fetchall())

    # Everything below runs on the executor's thread.

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(_NOT_OPEN)
        return self._conn

    def _open(self) -> None:
        conn = sqlite3.connect(self._db_path)
        conn.execute("PRAGMA journal_mode=WAL")
        # Telemetry can afford losing the last batches on power loss; not an fsync per batch.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        self._conn = conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _write(self, records: Sequence[InvocationRecord], lines: Sequence[_Line]) -> None:
        if not records and not lines:
            return
        rows = [(fn, ts, rid, *_sized(msg)) for fn, ts, rid, msg in lines]
        added_bytes, added_records = Counter[str](), Counter(r.function for r in records)
        for row in rows:
            added_bytes[row[0]] += row[4]
        with self._db() as conn:  # one transaction per batch, rolled back if anything raises
            conn.executemany(_ADD_RECORD, [[getattr(r, f) for f in _FIELDS] for r in records])
            conn.executemany(_ADD_LINE, rows)
            for function in added_bytes.keys() | added_records.keys():
                sql = "SELECT log_bytes, records FROM usage WHERE function = ?"
                size, count = conn.execute(sql, (function,)).fetchone() or (0, 0)
                size, count = size + added_bytes[function], count + added_records[function]
                if size > self._log_retention:
                    size -= _trim_logs(conn, function, size - self._log_retention)
                if count > self._record_retention:
                    _trim_records(conn, function, count - self._record_retention)
                    count = self._record_retention
                sql = "INSERT OR REPLACE INTO usage VALUES (?, ?, ?)"
                conn.execute(sql, (function, size, count))

    def _select_stats(self, function: str, since: float | None) -> FunctionStats:
        where, args = _where(function, since, None)
        conn = self._db()
        n, errors, colds, init_avg, wait_avg, billed, gb_s, cost = conn.execute(
            _STATS + where, args
        ).fetchone()
        ranked = f"SELECT duration_ms FROM invocations WHERE {where} ORDER BY duration_ms"
        # Nearest-rank percentile: the ceil(p/100 * n)-th smallest, ceil in exact integers.
        p50, p99 = (
            conn.execute(f"{ranked} LIMIT 1 OFFSET ?", [*args, -(-p * n // 100) - 1]).fetchone()[0]
            if n
            else None
            for p in (50, 99)
        )
        return FunctionStats(n, errors, colds, p50, p99, init_avg, wait_avg, billed, gb_s, cost)

    def _delete(self, function: str) -> None:
        with self._db() as conn:
            for table in ("invocations", "logs", "usage"):
                conn.execute(f"DELETE FROM {table} WHERE function = ?", (function,))


def _where(function: str, start: float | None, end: float | None) -> tuple[str, list[Any]]:
    where, args = "function = ?", list[Any]([function])
    if start is not None:
        where, args = f"{where} AND timestamp >= ?", [*args, start]
    if end is not None:
        where, args = f"{where} AND timestamp < ?", [*args, end]
    return where, args


def _sized(message: str) -> tuple[str, int]:
    # Lone surrogates (undecodable output) would make SQLite reject the whole batch: "?" them.
    data = message.encode(errors="replace")
    return data.decode(), len(data)


def _trim_logs(conn: sqlite3.Connection, function: str, excess: int) -> int:
    """Delete the function's oldest lines until at least ``excess`` bytes are freed."""
    freed, doomed = 0, []
    sql = "SELECT id, size FROM logs WHERE function = ? ORDER BY timestamp, id"
    for row_id, size in conn.execute(sql, (function,)):
        if freed >= excess:
            break
        freed += size
        doomed.append((row_id,))
    conn.executemany("DELETE FROM logs WHERE id = ?", doomed)
    return freed


def _trim_records(conn: sqlite3.Connection, function: str, excess: int) -> None:
    oldest = "SELECT id FROM invocations WHERE function = ? ORDER BY timestamp, id LIMIT ?"
    conn.execute(f"DELETE FROM invocations WHERE id IN ({oldest})", (function, excess))


def _record_from_row(row: Sequence[Any]) -> InvocationRecord:
    values = dict(zip(_FIELDS, row, strict=True))
    values["cold_start"] = bool(values["cold_start"])  # SQLite hands booleans back as 0/1
    return InvocationRecord(**values)
