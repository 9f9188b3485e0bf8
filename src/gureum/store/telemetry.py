"""Per-invocation metering records and output: buffered in memory, written to SQLite in batches.

An invocation is one ``invocations`` row, plus one ``logs`` row holding everything the function
printed (none when it printed nothing). START, END and REPORT are not stored: ``logs()`` formats
them from the records, and splits the stored output into lines.

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
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, TypeVar

from ..clock import Clock, SystemClock
from ..types import FunctionStats, InvocationRecord, LogLine
from .sqlite import BUSY_TIMEOUT_S, migrate, transaction

logger = logging.getLogger(__name__)
T = TypeVar("T")


_FIELDS = tuple(f.name for f in fields(InvocationRecord))
_RECORD_COLUMNS = ", ".join(_FIELDS)
_record_values = attrgetter(*_FIELDS)  # a record's column values, as a tuple
_Output = tuple[InvocationRecord, str]  # an invocation's record, and what the function printed
# Sorts a query's lines: time, then the invocation's arrival (its row id), then START (0),
# output (1), END (2), REPORT (3), then the output row and the line's place in it.
_Key = tuple[float, int, int, int, int]
_NOT_OPEN = "Telemetry is not started (or already closed)"

# MIGRATIONS[n] takes the file from user_version n to n + 1. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # The layout from before versioning, whose files are at user_version 0 too: IF NOT EXISTS.
    # The invocations columns are InvocationRecord's fields (a test holds them to it).
    (
        """
        CREATE TABLE IF NOT EXISTS invocations (id INTEGER PRIMARY KEY, function, version,
            request_id, timestamp, duration_ms, billed_duration_ms, memory_size_mb,
            max_memory_used_mb, init_duration_ms, cold_start, instance_wait_ms, error_type,
            gb_seconds, cost_usd)
        """,
        "CREATE INDEX IF NOT EXISTS invocations_function_time ON invocations (function, timestamp)",
        """
        CREATE TABLE IF NOT EXISTS logs (id INTEGER PRIMARY KEY, function TEXT NOT NULL,
            timestamp REAL NOT NULL, request_id TEXT NOT NULL, message TEXT NOT NULL, size INTEGER)
        """,
        "CREATE INDEX IF NOT EXISTS logs_function_time ON logs (function, timestamp)",
        "CREATE INDEX IF NOT EXISTS logs_request ON logs (function, request_id, timestamp)",
        # Running totals, so retention never has to SUM() a function's whole log on each flush.
        """
        CREATE TABLE IF NOT EXISTS usage (function TEXT PRIMARY KEY, log_bytes INTEGER,
            records INTEGER)
        """,
    ),
    # START, END and REPORT are derived from the records from now on, and a logs row holds an
    # invocation's whole output. Stored START/END/REPORT lines go, except those whose record is
    # gone (trimmed by record retention): with no record to derive them from, they stay as
    # stored lines. Old output rows (one per line) stay as they are: a one-line output.
    (
        # Finds a request's record; logs() and the deletion below look records up by it. Its
        # keys are request ids, made to sort by time so that inserts append (request_ids.py).
        "CREATE INDEX invocations_request ON invocations (function, request_id)",
        # A request's output is found through its record instead: at the record's end time.
        "DROP INDEX logs_request",
        # The longest duration seen: how far before a window an invocation ending in it began.
        "ALTER TABLE usage ADD COLUMN max_duration_ms REAL",
        """
        UPDATE usage SET max_duration_ms =
            (SELECT MAX(duration_ms) FROM invocations AS i WHERE i.function = usage.function)
        """,
        """
        DELETE FROM logs WHERE id IN (
            SELECT l.id FROM logs AS l JOIN invocations AS i
                ON i.function = l.function AND i.request_id = l.request_id
            WHERE l.message = 'START RequestId: ' || i.request_id || ' Version: ' || i.version
                OR l.message = 'END RequestId: ' || i.request_id
                OR instr(l.message, 'REPORT RequestId: ' || i.request_id || char(9)) = 1)
        """,
        """
        UPDATE usage SET log_bytes =
            (SELECT COALESCE(SUM(size), 0) FROM logs WHERE logs.function = usage.function)
        """,
    ),
    # Instances forked from a SnapStart snapshot report a restore duration.
    ("ALTER TABLE invocations ADD COLUMN restore_duration_ms REAL",),
)

_ADD_RECORD = f"INSERT INTO invocations ({_RECORD_COLUMNS}) VALUES ({','.join('?' * len(_FIELDS))})"
_ADD_OUTPUT = "INSERT INTO logs (function, timestamp, request_id, message, size) VALUES (?,?,?,?,?)"
_SELECT_RECORDS = f"SELECT id, {_RECORD_COLUMNS} FROM invocations"
# INDEXED BY: a lookup by request id must never fall back to scanning the function's time
# index (the planner prefers that one as soon as the query mentions timestamp). SQLite raises
# if the index is missing rather than quietly scanning a million records.
_RECORDS_OF_REQUEST = (
    f"{_SELECT_RECORDS} INDEXED BY invocations_request WHERE function = ? AND request_id = ?"
)
# Each output row with its invocation's row id (its place in arrival order; NULL, sorting first,
# when the record is gone), found through the same index.
_SELECT_OUTPUTS = """SELECT timestamp, request_id, message, id,
    (SELECT MIN(i.id) FROM invocations AS i INDEXED BY invocations_request
        WHERE i.function = logs.function AND i.request_id = logs.request_id) AS invocation
    FROM logs"""
# A request's output rows carry its record's end time exactly (InvocationRecord.end_time).
_OUTPUTS_OF_RECORD = f"""{_SELECT_OUTPUTS} INDEXED BY logs_function_time
    WHERE function = ? AND timestamp = ? AND request_id = ?"""
# When an invocation ended: the same arithmetic as InvocationRecord.end_time, so the same float.
_ENDED = "timestamp + duration_ms / 1000.0"
# One pass for everything but the percentiles; NULL averages when nothing matches.
_STATS = """SELECT COUNT(*), COUNT(error_type), COALESCE(SUM(cold_start), 0),
    AVG(init_duration_ms), AVG(instance_wait_ms), COALESCE(SUM(billed_duration_ms), 0),
    TOTAL(gb_seconds), TOTAL(cost_usd), AVG(restore_duration_ms) FROM invocations WHERE """


class Telemetry:
    """Log and metering store. Call ``record()`` from the event loop thread only.

    Past ``max_buffered_records`` the oldest buffered records give way (``dropped_records``),
    reached only while writes stall; past ``max_buffered_output`` characters of buffered output,
    the oldest outputs likewise (``dropped_outputs``, one per invocation). A failed batch counts
    too."""

    def __init__(
        self,
        db_path: Path,
        *,
        clock: Clock | None = None,
        log_retention_bytes: int = 64 * 1024 * 1024,  # per function; oldest output goes first
        record_retention: int = 1_000_000,  # invocation records per function
        flush_interval: float = 0.2,
        flush_batch: int = 256,
        max_buffered_output: int = 16 * 1024 * 1024,  # characters
        max_buffered_records: int = 100_000,
    ) -> None:
        self._db_path = db_path
        self._clock = clock or SystemClock()
        self._log_retention = log_retention_bytes
        self._record_retention = record_retention
        self._flush_interval = flush_interval
        self._flush_batch = flush_batch
        self._max_output, self._max_records = max_buffered_output, max_buffered_records
        self._records: deque[InvocationRecord] = deque(maxlen=max_buffered_records)
        self._outputs: deque[_Output] = deque()
        self._output_chars = 0  # in self._outputs
        self._wake = asyncio.Event()
        self._written = asyncio.Condition()
        self._closing = False
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._conn: sqlite3.Connection | None = None  # used on the executor's thread only
        self.dropped_outputs = self.dropped_records = self.records_written = 0
        self.last_flush_at: float | None = None  # clock.time() of the last successful write

    async def start(self) -> None:
        """Open (or create, or migrate) the database in WAL mode and start the flusher.
        Raises SchemaTooNewError for a database a newer gureum wrote."""
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

    def record(self, record: InvocationRecord, output: str = "") -> None:
        """Buffer one invocation's record and what the function printed (``""``: nothing).
        Never blocks and never raises for a full buffer: the oldest buffered entries give way."""
        if len(self._records) == self._max_records:
            self.dropped_records += 1
        self._records.append(record)
        if output:
            self._buffer_output(record, output)
        if len(self._records) >= self._flush_batch:
            self._wake.set()

    def _buffer_output(self, record: InvocationRecord, output: str) -> None:
        self._outputs.append((record, output))
        self._output_chars += len(output)
        while self._output_chars > self._max_output:
            _, dropped = self._outputs.popleft()
            self._output_chars -= len(dropped)
            self.dropped_outputs += 1
        # Output wakes the flusher too, at half capacity, so a chatty function's output is
        # written before it starts being dropped.
        if self._output_chars * 2 >= self._max_output:
            self._wake.set()

    async def flush(self) -> None:
        """Write everything buffered now. Raises what SQLite raises (that batch is dropped)."""
        if self._conn is None:
            raise RuntimeError(_NOT_OPEN)
        records, self._records = self._records, deque(maxlen=self._max_records)
        outputs, self._outputs, self._output_chars = self._outputs, deque(), 0
        try:
            # Submitted even when empty: waiting for it also waits for a write in flight.
            await self._run(partial(self._write, records, outputs))
        except Exception:
            self.dropped_records += len(records)
            self.dropped_outputs += len(outputs)
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
        """Lines with ``start <= timestamp < end``, oldest first, ties in arrival order.

        Each invocation's START carries the time it started; its output lines, END and REPORT
        the time it ended. ``limit`` counts lines."""
        await self.flush()
        query = partial(self._select_logs, function, start, end, request_id, limit)
        return await self._run(query)

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
        self._outputs = deque(o for o in self._outputs if o[0].function != function)
        self._output_chars = sum(len(text) for _, text in self._outputs)
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
        # isolation_level=None: transaction() says BEGIN itself.
        conn = sqlite3.connect(self._db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            # Telemetry can afford losing the last batches on power loss; not an fsync per batch.
            conn.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint every ~40 MB of WAL, not 4: each insert into the request index dirties a
            # page of its own, and a rarer checkpoint writes (and fsyncs) such a page once for
            # many batches. Measured: about 40% less writer time per record.
            conn.execute("PRAGMA wal_autocheckpoint=10000")
            migrate(conn, self._db_path.name, MIGRATIONS)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _write(self, records: Sequence[InvocationRecord], outputs: Sequence[_Output]) -> None:
        if not records and not outputs:
            return
        rows = [(r.function, r.end_time, r.request_id, *_sized(text)) for r, text in outputs]
        added_bytes, added_records = Counter[str](), Counter[str]()
        longest: dict[str, float] = {}
        for row in rows:
            added_bytes[row[0]] += row[4]
        for r in records:
            added_records[r.function] += 1
            longest[r.function] = max(longest.get(r.function, 0.0), r.duration_ms)
        # One transaction per batch, rolled back if anything raises.
        with transaction(self._db()) as conn:
            conn.executemany(_ADD_RECORD, map(_record_values, records))
            conn.executemany(_ADD_OUTPUT, rows)
            for function in added_bytes.keys() | added_records.keys():
                sql = "SELECT log_bytes, records, max_duration_ms FROM usage WHERE function = ?"
                size, count, longest_ms = conn.execute(sql, (function,)).fetchone() or (0, 0, 0.0)
                size, count = size + added_bytes[function], count + added_records[function]
                longest_ms = max(longest_ms or 0.0, longest.get(function, 0.0))
                if size > self._log_retention:
                    size -= _trim_logs(conn, function, size - self._log_retention)
                if count > self._record_retention:
                    _trim_records(conn, function, count - self._record_retention)
                    count = self._record_retention
                sql = "INSERT OR REPLACE INTO usage (function, log_bytes, records, max_duration_ms)"
                sql += " VALUES (?, ?, ?, ?)"
                conn.execute(sql, (function, size, count, longest_ms))

    def _select_logs(
        self,
        function: str,
        start: float | None,
        end: float | None,
        request_id: str | None,
        limit: int,
    ) -> list[LogLine]:
        conn = self._db()
        if request_id is not None:
            # One invocation (two, if a request id was ever reused): the window applies below.
            # Output whose record is gone (dropped, or trimmed by record retention) is found by
            # time only.
            rows = conn.execute(_RECORDS_OF_REQUEST, (function, request_id)).fetchall()
            records = [(row[0], _record_from_row(row[1:])) for row in rows]
            outputs = [
                output
                for _, record in records
                for output in conn.execute(
                    _OUTPUTS_OF_RECORD, (function, record.end_time, request_id)
                )
            ]
        else:
            # Each query returns at most ``limit`` rows of at least one line each, in the order
            # of their first line: the first ``limit`` lines are among what they return.
            where, args = _where(function, start, end)
            sql = f"{_SELECT_RECORDS} WHERE {where} ORDER BY timestamp, id LIMIT ?"
            rows = conn.execute(sql, [*args, limit]).fetchall()
            if start is not None:
                rows += _ended_within(conn, function, start, end, limit)
            records = [(row[0], _record_from_row(row[1:])) for row in rows]
            sql = f"{_SELECT_OUTPUTS} WHERE {where} ORDER BY timestamp, invocation, id LIMIT ?"
            outputs = conn.execute(sql, [*args, limit]).fetchall()
        lines: list[tuple[_Key, LogLine]] = []
        for invocation, record in records:
            lines += _derived_lines(invocation, record, start, end)
        for timestamp, rid, text, row_id, invocation in outputs:
            if _within(timestamp, start, end):
                key = (timestamp, -1 if invocation is None else invocation, 1, row_id)
                # A row stored by an older gureum may be one empty line: "" is still a line.
                for index, line in enumerate(text.splitlines() or [text]):
                    lines.append(((*key, index), LogLine(timestamp, rid, line)))
        lines.sort(key=itemgetter(0))
        # A negative limit is no limit, as SQLite's LIMIT has it.
        return [line for _, line in (lines if limit < 0 else lines[:limit])]

    def _select_stats(self, function: str, since: float | None) -> FunctionStats:
        where, args = _where(function, since, None)
        conn = self._db()
        n, errors, colds, init_avg, wait_avg, billed, gb_s, cost, restore_avg = conn.execute(
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
        return FunctionStats(
            n, errors, colds, p50, p99, init_avg, wait_avg, billed, gb_s, cost, restore_avg
        )

    def _delete(self, function: str) -> None:
        with transaction(self._db()) as conn:
            for table in ("invocations", "logs", "usage"):
                conn.execute(f"DELETE FROM {table} WHERE function = ?", (function,))


def _where(function: str, start: float | None, end: float | None) -> tuple[str, list[Any]]:
    where, args = "function = ?", list[Any]([function])
    if start is not None:
        where, args = f"{where} AND timestamp >= ?", [*args, start]
    if end is not None:
        where, args = f"{where} AND timestamp < ?", [*args, end]
    return where, args


def _within(timestamp: float, start: float | None, end: float | None) -> bool:
    return (start is None or timestamp >= start) and (end is None or timestamp < end)


def _derived_lines(
    invocation: int, record: InvocationRecord, start: float | None, end: float | None
) -> list[tuple[_Key, LogLine]]:
    """The invocation's START, END and REPORT lines that fall in the window, with their keys."""
    lines = []
    if _within(record.timestamp, start, end):
        line = LogLine(record.timestamp, record.request_id, record.start_line())
        lines.append(((record.timestamp, invocation, 0, 0, 0), line))
    ended = record.end_time
    if _within(ended, start, end):
        line = LogLine(ended, record.request_id, record.end_line())
        lines.append(((ended, invocation, 2, 0, 0), line))
        line = LogLine(ended, record.request_id, record.report_line())
        lines.append(((ended, invocation, 3, 0, 0), line))
    return lines


def _ended_within(
    conn: sqlite3.Connection, function: str, start: float, end: float | None, limit: int
) -> list[Any]:
    """Records that started before ``start`` and ended in the window, in the order they ended:
    their END and REPORT lines are in it, their START is not."""
    sql = "SELECT max_duration_ms FROM usage WHERE function = ?"
    (longest_ms,) = conn.execute(sql, (function,)).fetchone() or (None,)
    if longest_ms is None:
        return []
    # The longest duration stored bounds how long before ``start`` such a record began, so the
    # time index is scanned from there only; the second of slack covers float rounding.
    earliest = start - longest_ms / 1000 - 1.0
    sql = f"{_SELECT_RECORDS} WHERE function = ? AND timestamp >= ? AND timestamp < ?"
    sql, args = f"{sql} AND {_ENDED} >= ?", [function, earliest, start, start]
    if end is not None:
        sql, args = f"{sql} AND {_ENDED} < ?", [*args, end]
    return conn.execute(f"{sql} ORDER BY {_ENDED}, id LIMIT ?", [*args, limit]).fetchall()


def _sized(message: str) -> tuple[str, int]:
    # Lone surrogates (undecodable output) would make SQLite reject the whole batch: "?" them.
    data = message.encode(errors="replace")
    return data.decode(), len(data)


def _trim_logs(conn: sqlite3.Connection, function: str, excess: int) -> int:
    """Delete the function's oldest output rows until at least ``excess`` bytes are freed."""
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
