import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import astuple, fields
from pathlib import Path
from typing import Any

import pytest

from gureum.clock import ManualClock
from gureum.store import telemetry as telemetry_module
from gureum.store.meter import PriceTable, bill
from gureum.store.sqlite import SchemaTooNewError
from gureum.store.telemetry import MIGRATIONS, Telemetry
from gureum.types import InvocationRecord, LogLine

T0 = 1_800_000_000.0
NEVER = 3600.0  # a flush interval no test reaches: only flush() or the batch trigger write


def make_record(request_id: str = "r1", function: str = "f", **changes: Any) -> InvocationRecord:
    fields: dict[str, Any] = {
        "function": function,
        "version": "$LATEST",
        "request_id": request_id,
        "timestamp": T0,
        "duration_ms": 10.0,
        "billed_duration_ms": 10,
        "memory_size_mb": 128,
        "max_memory_used_mb": 40,
        "init_duration_ms": None,
        "cold_start": False,
        "instance_wait_ms": 0.0,
        "error_type": None,
        "gb_seconds": 0.00125,
        "cost_usd": 0.0,
    }
    return InvocationRecord(**{**fields, **changes})


def derived(record: InvocationRecord, *output: str) -> list[LogLine]:
    """The lines a logs query returns for one invocation: START, its output, END, REPORT."""
    rid, ended = record.request_id, record.timestamp + record.duration_ms / 1000
    return [
        LogLine(record.timestamp, rid, record.start_line()),
        *(LogLine(ended, rid, line) for line in output),
        LogLine(ended, rid, record.end_line()),
        LogLine(ended, rid, record.report_line()),
    ]


def messages(lines: list[LogLine]) -> list[str]:
    return [line.message for line in lines]


def output_of(lines: list[LogLine]) -> list[str]:
    """Only what the functions printed."""
    return [m for m in messages(lines) if not m.startswith(("START ", "END ", "REPORT "))]


@contextlib.asynccontextmanager
async def open_telemetry(path: Path, **options: Any) -> AsyncIterator[Telemetry]:
    telemetry = Telemetry(path, **{"flush_interval": NEVER, **options})
    await telemetry.start()
    try:
        yield telemetry
    finally:
        await telemetry.aclose()


@pytest.fixture
async def telemetry(tmp_path: Path) -> AsyncIterator[Telemetry]:
    async with open_telemetry(tmp_path / "telemetry.db", clock=ManualClock(T0)) as telemetry:
        yield telemetry


def count_rows(path: Path, table: str) -> int:
    """Read through a separate connection: what is on disk, not what the store would flush."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


async def test_logs_derive_start_end_and_report_around_the_output(
    telemetry: Telemetry,
) -> None:
    record = make_record("r1", duration_ms=1500.0, init_duration_ms=120.5)
    telemetry.record(record, "hello\n\nworld\n")
    assert await telemetry.logs("f") == [
        LogLine(T0, "r1", "START RequestId: r1 Version: $LATEST"),
        LogLine(T0 + 1.5, "r1", "hello"),
        LogLine(T0 + 1.5, "r1", ""),
        LogLine(T0 + 1.5, "r1", "world"),
        LogLine(T0 + 1.5, "r1", "END RequestId: r1"),
        LogLine(
            T0 + 1.5,
            "r1",
            "REPORT RequestId: r1\tDuration: 1500.00 ms\tBilled Duration: 10 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 40 MB\tInit Duration: 120.50 ms",
        ),
    ]


async def test_an_invocation_that_printed_nothing_writes_no_log_row(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.db"
    async with open_telemetry(path) as telemetry:
        quiet, chatty = make_record("quiet"), make_record("chatty", timestamp=T0 + 1)
        telemetry.record(quiet)
        telemetry.record(chatty, "one\ntwo\n")
        await telemetry.flush()
        assert count_rows(path, "invocations") == 2
        assert count_rows(path, "logs") == 1  # all of chatty's output, in one row
        assert await telemetry.logs("f") == derived(quiet) + derived(chatty, "one", "two")


async def test_logs_by_request_id(telemetry: Telemetry) -> None:
    r1, r2 = make_record("r1"), make_record("r2", timestamp=T0 + 1)
    telemetry.record(r1, "hello from r1")
    telemetry.record(r2, "hello from r2")
    telemetry.record(make_record("r3", function="g"), "hello from r3")
    await telemetry.flush()

    assert await telemetry.logs("f", request_id="r2") == derived(r2, "hello from r2")
    assert await telemetry.logs("f", request_id="r3") == []  # another function's request
    assert await telemetry.logs("f", request_id="nope") == []


async def test_filters_can_cut_between_an_invocations_start_and_end(
    telemetry: Telemetry,
) -> None:
    # Starts at T0, prints, ends at T0 + 2: START on one side of T0 + 1, the rest on the other.
    long = make_record("long", duration_ms=2000.0)
    telemetry.record(long, "out")
    start_line, out, end_line, report_line = derived(long, "out")

    assert await telemetry.logs("f", end=T0 + 1) == [start_line]
    assert await telemetry.logs("f", start=T0 + 1) == [out, end_line, report_line]
    assert await telemetry.logs("f", start=T0 + 1, end=T0 + 2) == []  # half open
    assert await telemetry.logs("f", start=T0 + 2, end=T0 + 3) == [out, end_line, report_line]
    assert await telemetry.logs("f", request_id="long", end=T0 + 1) == [start_line]
    assert await telemetry.logs("f", request_id="long", start=T0 + 1) == [
        out,
        end_line,
        report_line,
    ]


async def test_a_window_finds_invocations_that_began_long_before_it(
    telemetry: Telemetry,
) -> None:
    # A 10-minute invocation, then many short ones: the window after them all still holds the
    # long one's END and REPORT, and none of the short ones' lines.
    long = make_record("long", timestamp=T0, duration_ms=600_000.0)
    telemetry.record(long, "finally")
    for i in range(50):
        telemetry.record(make_record(f"short{i}", timestamp=T0 + i))
    lines = await telemetry.logs("f", start=T0 + 599, end=T0 + 601)
    assert lines == derived(long, "finally")[1:]


async def test_logs_by_time_range_is_half_open(telemetry: Telemetry) -> None:
    records = [make_record(f"r{i}", timestamp=T0 + i, duration_ms=0.0) for i in range(10)]
    for i, record in enumerate(records):
        telemetry.record(record, f"line {i}")
    lines = await telemetry.logs("f", start=T0 + 2, end=T0 + 5)  # queries flush first
    assert output_of(lines) == ["line 2", "line 3", "line 4"]
    assert lines == [line for r in records[2:5] for line in derived(r, f"line {r.request_id[1:]}")]
    assert len(await telemetry.logs("f", start=T0 + 8)) == 8
    assert len(await telemetry.logs("f", end=T0 + 1)) == 4


async def test_limit_counts_lines(telemetry: Telemetry) -> None:
    a, b = make_record("a"), make_record("b", timestamp=T0 + 1)
    telemetry.record(a, "a1\na2\na3")
    telemetry.record(b, "b1")
    every = derived(a, "a1", "a2", "a3") + derived(b, "b1")
    for limit in range(len(every) + 2):
        assert await telemetry.logs("f", limit=limit) == every[:limit]
        assert await telemetry.logs("f", start=T0 + 0.005, limit=limit) == every[1:][:limit]
    assert await telemetry.logs("f", request_id="a", limit=2) == every[:2]


async def test_logs_are_ordered_by_time_then_arrival(telemetry: Telemetry) -> None:
    # a and b start and end at the same instants: at each, a's lines come first, as a
    # arrived first; c, recorded after a flush, started earlier and still comes first.
    a, b = make_record("a"), make_record("b")
    telemetry.record(a, "a says")
    telemetry.record(b, "b says")
    await telemetry.flush()
    c = make_record("c", timestamp=T0 - 1, duration_ms=1000.0)  # ends as a and b start
    telemetry.record(c, "c says")
    start_a, *rest_a = derived(a, "a says")
    start_b, *rest_b = derived(b, "b says")
    assert await telemetry.logs("f") == [
        derived(c)[0],
        start_a,
        start_b,
        *derived(c, "c says")[1:],
        *rest_a,
        *rest_b,
    ]


async def test_records_round_trip(telemetry: Telemetry) -> None:
    cold = make_record(
        "r1", cold_start=True, init_duration_ms=120.5, error_type="Runtime.ExitError"
    )
    warm = make_record("r2", timestamp=T0 + 10, instance_wait_ms=3.5)
    telemetry.record(cold)
    telemetry.record(warm)
    records = await telemetry.records("f")
    assert records == [cold, warm]
    assert records[0].cold_start is True and records[1].cold_start is False
    assert await telemetry.records("f", since=T0 + 5) == [warm]
    assert await telemetry.records("f", limit=1) == [cold]
    assert await telemetry.records("other") == []


async def test_stats(telemetry: Telemetry) -> None:
    prices = PriceTable()
    for i in range(1, 101):  # durations 1..100 ms, shuffled so the order is not the answer
        duration = float((i * 37) % 100 + 1)
        charge = bill(duration, 256, prices)
        telemetry.record(
            make_record(
                f"r{i}",
                timestamp=T0 + i,
                duration_ms=duration,
                billed_duration_ms=charge.billed_duration_ms,
                memory_size_mb=256,
                gb_seconds=charge.gb_seconds,
                cost_usd=charge.cost_usd,
                error_type="Unhandled" if i % 20 == 0 else None,
                cold_start=i <= 4,
                init_duration_ms=100.0 * i if i <= 4 else None,
                instance_wait_ms=2.0,
            )
        )
    stats = await telemetry.stats("f")
    assert (stats.invocations, stats.errors, stats.cold_starts) == (100, 5, 4)
    assert (stats.duration_p50_ms, stats.duration_p99_ms) == (50.0, 99.0)
    assert stats.init_duration_avg_ms == pytest.approx(250.0)
    assert stats.instance_wait_avg_ms == pytest.approx(2.0)
    assert stats.billed_duration_ms == sum(range(1, 101))
    assert stats.gb_seconds == pytest.approx(0.25 * sum(range(1, 101)) / 1000)
    assert stats.cost_usd == pytest.approx(
        100 * prices.per_request_usd + stats.gb_seconds * prices.per_gb_second_usd
    )

    recent = await telemetry.stats("f", since=T0 + 91)
    assert recent.invocations == 10
    assert recent.cold_starts == 0 and recent.init_duration_avg_ms is None


async def test_stats_of_a_single_invocation_and_of_none(telemetry: Telemetry) -> None:
    telemetry.record(make_record(duration_ms=7.5))
    one = await telemetry.stats("f")
    assert one.duration_p50_ms == one.duration_p99_ms == 7.5

    empty = await telemetry.stats("nothing")
    assert (empty.invocations, empty.errors, empty.cold_starts) == (0, 0, 0)
    assert empty.duration_p50_ms is None and empty.duration_p99_ms is None
    assert empty.init_duration_avg_ms is None and empty.instance_wait_avg_ms is None
    assert (empty.billed_duration_ms, empty.gb_seconds, empty.cost_usd) == (0, 0.0, 0.0)


async def test_log_retention_drops_oldest_output_and_keeps_newest(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.db"
    async with open_telemetry(path, log_retention_bytes=100) as telemetry:
        # 10-byte outputs over several flushes: the running total must carry across batches.
        for batch in range(3):
            for i in range(10):
                record = make_record(f"r{batch}{i}", timestamp=T0 + batch * 10 + i)
                telemetry.record(record, f"line-{batch}{i}-xx")
            await telemetry.flush()
        telemetry.record(make_record("g1", function="g"), "other function")
        kept = await telemetry.logs("f")
        assert output_of(kept) == [f"line-2{i}-xx" for i in range(10)]
        # Retention is of output: every invocation's record, so its START, END, REPORT, stays.
        assert len(kept) == 30 * 3 + 10
        assert output_of(await telemetry.logs("g")) == ["other function"]

    # The byte count survives a restart: one more output pushes out exactly the oldest one.
    async with open_telemetry(path, log_retention_bytes=100) as telemetry:
        telemetry.record(make_record("r30", timestamp=T0 + 100), "line-30-xx")
        kept = await telemetry.logs("f")
        assert output_of(kept) == [*(f"line-2{i}-xx" for i in range(1, 10)), "line-30-xx"]
    assert count_rows(path, "logs") == 11


async def test_log_retention_counts_utf8_bytes_of_whole_outputs(tmp_path: Path) -> None:
    async with open_telemetry(tmp_path / "t.db", log_retention_bytes=14) as telemetry:
        telemetry.record(make_record("r1"), "가나\n다")  # 10 bytes: one row, trimmed whole
        telemetry.record(make_record("r2", timestamp=T0 + 1), "라마")  # 6 bytes
        assert output_of(await telemetry.logs("f")) == ["라마"]


async def test_record_retention_keeps_newest(tmp_path: Path) -> None:
    async with open_telemetry(tmp_path / "t.db", record_retention=5) as telemetry:
        for i in range(8):
            telemetry.record(make_record(f"r{i}", timestamp=T0 + i))
            if i % 3 == 0:
                await telemetry.flush()
        records = await telemetry.records("f")
        assert [r.request_id for r in records] == ["r3", "r4", "r5", "r6", "r7"]


async def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.db"
    record = make_record("r1")
    async with open_telemetry(path) as telemetry:
        telemetry.record(record, "kept")
        # No flush(): aclose() must write what is buffered.
    async with open_telemetry(path) as telemetry:
        assert await telemetry.records("f") == [record]
        assert await telemetry.logs("f", request_id="r1") == derived(record, "kept")


async def test_batch_size_wakes_the_flusher(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.db"
    async with open_telemetry(path, flush_batch=4) as telemetry:
        for i in range(3):
            telemetry.record(make_record(f"r{i}"), f"hello from r{i}")
        for _ in range(10):
            await asyncio.sleep(0)
        assert telemetry.records_written == 0  # below the batch size, the interval is an hour

        telemetry.record(make_record("r3"))
        await asyncio.wait_for(telemetry.wait_written(4), timeout=10)
        assert count_rows(path, "invocations") == 4
        assert count_rows(path, "logs") == 3


async def test_interval_flushes_a_quiet_buffer(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.db"
    async with open_telemetry(path, flush_interval=0.01) as telemetry:
        telemetry.record(make_record(), "just one")
        await asyncio.wait_for(telemetry.wait_written(1), timeout=10)
        assert count_rows(path, "logs") == 1


async def test_full_output_buffer_drops_oldest_output_without_raising(tmp_path: Path) -> None:
    async with open_telemetry(tmp_path / "t.db", max_buffered_output=10) as telemetry:
        for i, text in enumerate(["aaaa", "bbbb", "cccc"]):
            telemetry.record(make_record(f"r{i}", timestamp=T0 + i), text)
        assert telemetry.dropped_outputs == 1
        lines = await telemetry.logs("f")
        assert output_of(lines) == ["bbbb", "cccc"]
        assert len(lines) == 3 * 3 + 2  # the records themselves are all kept


async def test_output_past_half_the_buffer_wakes_the_flusher(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.db"
    async with open_telemetry(path, max_buffered_output=10) as telemetry:
        telemetry.record(make_record("r0"), "1234")
        for _ in range(10):
            await asyncio.sleep(0)
        assert telemetry.records_written == 0
        telemetry.record(make_record("r1"), "5")  # 5 of 10 characters buffered
        await asyncio.wait_for(telemetry.wait_written(2), timeout=10)
        assert telemetry.dropped_outputs == 0
        assert count_rows(path, "logs") == 2


async def test_full_record_buffer_drops_oldest_records(tmp_path: Path) -> None:
    async with open_telemetry(tmp_path / "t.db", max_buffered_records=2) as telemetry:
        for i in range(3):
            telemetry.record(make_record(f"r{i}"))
        assert telemetry.dropped_records == 1
        assert [r.request_id for r in await telemetry.records("f")] == ["r1", "r2"]


async def test_delete_function(telemetry: Telemetry) -> None:
    g1 = make_record("g1", function="g")
    telemetry.record(make_record("r1"), "from r1")
    telemetry.record(g1, "from g1")
    await telemetry.flush()
    telemetry.record(make_record("r2"), "from r2")  # still buffered

    await telemetry.delete_function("f")

    assert await telemetry.logs("f") == []
    assert await telemetry.records("f") == []
    assert (await telemetry.stats("f")).invocations == 0
    assert await telemetry.logs("g") == derived(g1, "from g1")
    assert [r.request_id for r in await telemetry.records("g")] == ["g1"]


async def test_undecodable_output_does_not_lose_the_batch(telemetry: Telemetry) -> None:
    telemetry.record(make_record(), "bad \udcff byte\nfine")
    assert output_of(await telemetry.logs("f")) == ["bad ? byte", "fine"]


async def test_last_flush_time_comes_from_the_clock(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    async with open_telemetry(tmp_path / "t.db", clock=clock) as telemetry:
        clock.advance(42)
        await telemetry.flush()
        assert telemetry.last_flush_at == T0 + 42


async def test_queries_need_a_started_store(tmp_path: Path) -> None:
    telemetry = Telemetry(tmp_path / "t.db")
    with pytest.raises(RuntimeError):
        await telemetry.flush()
    await telemetry.aclose()  # closing a store that never started is a no-op
    await telemetry.start()
    await telemetry.aclose()
    await telemetry.aclose()  # and closing twice too
    with pytest.raises(RuntimeError):
        await telemetry.logs("f")


async def test_start_reports_an_unopenable_database(tmp_path: Path) -> None:
    telemetry = Telemetry(tmp_path / "missing-dir" / "t.db")
    with pytest.raises(sqlite3.OperationalError):
        await telemetry.start()
    await telemetry.aclose()


# -- the schema and its migrations ----------------------------------------------------------

# What telemetry.db looked like before START, END and REPORT were derived (no user_version).
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS invocations (id INTEGER PRIMARY KEY, function, version, request_id,
    timestamp, duration_ms, billed_duration_ms, memory_size_mb, max_memory_used_mb,
    init_duration_ms, cold_start, instance_wait_ms, error_type, gb_seconds, cost_usd);
CREATE INDEX IF NOT EXISTS invocations_function_time ON invocations (function, timestamp);
CREATE TABLE IF NOT EXISTS logs (id INTEGER PRIMARY KEY, function TEXT NOT NULL,
    timestamp REAL NOT NULL, request_id TEXT NOT NULL, message TEXT NOT NULL, size INTEGER);
CREATE INDEX IF NOT EXISTS logs_function_time ON logs (function, timestamp);
CREATE INDEX IF NOT EXISTS logs_request ON logs (function, request_id, timestamp);
CREATE TABLE IF NOT EXISTS usage (function TEXT PRIMARY KEY, log_bytes INTEGER, records INTEGER);
"""


ADDED_SINCE = {"restore_duration_ms"}


def write_old_database(
    path: Path, invocations: list[tuple[InvocationRecord | None, list[LogLine]]]
) -> None:
    """Store invocations as the old code did: the record, and one row per log line."""
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(OLD_SCHEMA)
        for record, lines in invocations:
            if record is not None:
                # The columns of then: those InvocationRecord has grown since are not there.
                old = [f.name for f in fields(InvocationRecord) if f.name not in ADDED_SINCE]
                values = [getattr(record, name) for name in old]
                columns = ", ".join(old)
                marks = ", ".join("?" * len(values))
                conn.execute(f"INSERT INTO invocations ({columns}) VALUES ({marks})", values)
            for line in lines:
                row = (record.function if record else "f", *astuple(line))
                sql = "INSERT INTO logs (function, timestamp, request_id, message, size)"
                conn.execute(f"{sql} VALUES (?, ?, ?, ?, ?)", (*row, len(line.message.encode())))
        for function, size, count in conn.execute(
            "SELECT function, SUM(size), COUNT(DISTINCT request_id) FROM logs GROUP BY function"
        ).fetchall():
            conn.execute("INSERT INTO usage VALUES (?, ?, ?)", (function, size, count))


async def test_an_old_database_is_migrated_to_derived_lines(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.db"
    quiet = make_record("quiet", init_duration_ms=99.0, cold_start=True)
    chatty = make_record("chatty", timestamp=T0 + 1, duration_ms=2000.0)
    # Its record was trimmed by record retention: its stored lines are all there is of it.
    trimmed = make_record("trimmed", timestamp=T0 - 100)
    tricky = make_record("tricky", timestamp=T0 + 2)  # printed something that looks like END
    old = [
        (None, derived(trimmed, "from the past")),
        (quiet, derived(quiet)),
        (chatty, derived(chatty, "one", "", "two")),
        (tricky, derived(tricky, "END RequestId: someone-else")),
    ]
    write_old_database(path, old)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        before = conn.execute(
            "SELECT timestamp, request_id, message FROM logs ORDER BY timestamp, id"
        )
        what_old_code_returned = [LogLine(*row) for row in before]

    async with open_telemetry(path) as telemetry:
        assert await telemetry.logs("f") == what_old_code_returned
        assert await telemetry.logs("f", request_id="chatty") == derived(chatty, "one", "", "two")
        # Without its record, the trimmed invocation's lines are found by time, not request id.
        assert await telemetry.logs("f", request_id="trimmed") == []
        assert await telemetry.logs("f", end=T0 - 99) == derived(trimmed, "from the past")
        # chatty began before the window, and its old output rows and derived END are in it.
        assert await telemetry.logs("f", start=T0 + 2, end=T0 + 3.5) == [
            *derived(tricky, "END RequestId: someone-else"),
            *derived(chatty, "one", "", "two")[1:],
        ]
        # New invocations fall in with the migrated ones: new starts as chatty ends, after it.
        new = make_record("new", timestamp=T0 + 3)
        telemetry.record(new, "fresh")
        assert await telemetry.logs("f", start=T0 + 3) == [
            *derived(chatty, "one", "", "two")[1:],
            *derived(new, "fresh"),
        ]

    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        stored = [row[0] for row in conn.execute("SELECT message FROM logs ORDER BY id")]
        # The trimmed invocation's lines, the old output rows (one per line), the new row.
        trimmed_lines = messages(derived(trimmed, "from the past"))
        assert stored == [*trimmed_lines, "one", "", "two", "END RequestId: someone-else", "fresh"]
        (log_bytes,) = conn.execute("SELECT log_bytes FROM usage WHERE function = 'f'").fetchone()
        assert log_bytes == sum(len(m.encode()) for m in stored)

    # Opening again migrates nothing more.
    async with open_telemetry(path) as telemetry:
        assert len(await telemetry.logs("f")) == len(what_old_code_returned) + 4


async def test_schema_columns_follow_invocation_record(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    async with open_telemetry(path):
        pass
    with contextlib.closing(sqlite3.connect(path)) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(invocations)")]
    # A new InvocationRecord field needs a migration that adds its column.
    assert columns == ["id", *(f.name for f in fields(InvocationRecord))]


async def test_request_id_lookups_search_an_index(tmp_path: Path) -> None:
    """A request id query must stay an index search for a function with a million records."""
    path = tmp_path / "t.db"
    async with open_telemetry(path):
        pass

    def plan(sql: str, *args: object) -> list[str]:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", args)]

    records = plan(telemetry_module._RECORDS_OF_REQUEST, "f", "r")
    output = plan(telemetry_module._OUTPUTS_OF_RECORD, "f", T0, "r")
    assert not [step for step in records + output if "SCAN" in step]
    assert "invocations_request (function=? AND request_id=?)" in records[0]
    assert "logs_function_time (function=? AND timestamp=?)" in output[0]


async def test_a_database_from_a_newer_gureum_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    telemetry = Telemetry(path)
    with pytest.raises(SchemaTooNewError):
        await telemetry.start()
    await telemetry.aclose()
