import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gureum.clock import ManualClock
from gureum.store.meter import PriceTable, bill
from gureum.store.telemetry import Telemetry
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


def invocation_lines(request_id: str, at: float) -> list[tuple[float, str]]:
    return [
        (at, f"START RequestId: {request_id} Version: $LATEST"),
        (at + 0.001, f"hello from {request_id}"),
        (at + 0.002, f"END RequestId: {request_id}"),
    ]


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


async def test_logs_by_request_id(telemetry: Telemetry) -> None:
    telemetry.record(make_record("r1"), invocation_lines("r1", T0))
    telemetry.record(make_record("r2"), invocation_lines("r2", T0 + 1))
    telemetry.record(make_record("r3", function="g"), invocation_lines("r3", T0 + 2))
    await telemetry.flush()

    lines = await telemetry.logs("f", request_id="r2")
    assert [line.message for line in lines] == [
        "START RequestId: r2 Version: $LATEST",
        "hello from r2",
        "END RequestId: r2",
    ]
    assert lines[0] == LogLine(T0 + 1, "r2", "START RequestId: r2 Version: $LATEST")
    assert await telemetry.logs("f", request_id="r3") == []  # another function's request


async def test_logs_by_time_range_is_half_open(telemetry: Telemetry) -> None:
    telemetry.record(make_record(), [(T0 + i, f"line {i}") for i in range(10)])
    lines = await telemetry.logs("f", start=T0 + 2, end=T0 + 5)  # queries flush first
    assert [line.message for line in lines] == ["line 2", "line 3", "line 4"]
    assert len(await telemetry.logs("f", start=T0 + 8)) == 2
    assert len(await telemetry.logs("f", end=T0 + 1)) == 1
    assert len(await telemetry.logs("f", limit=4)) == 4


async def test_logs_are_ordered_by_time_then_arrival(telemetry: Telemetry) -> None:
    telemetry.record(make_record("late"), [(T0 + 5, "b"), (T0 + 5, "c")])
    await telemetry.flush()
    telemetry.record(make_record("early"), [(T0 + 1, "a"), (T0 + 5, "d"), (T0 + 9, "e")])
    lines = await telemetry.logs("f")
    assert [line.message for line in lines] == ["a", "b", "c", "d", "e"]


async def test_records_round_trip(telemetry: Telemetry) -> None:
    cold = make_record(
        "r1", cold_start=True, init_duration_ms=120.5, error_type="Runtime.ExitError"
    )
    warm = make_record("r2", timestamp=T0 + 10, instance_wait_ms=3.5)
    telemetry.record(cold, [])
    telemetry.record(warm, [])
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
            ),
            [],
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
    telemetry.record(make_record(duration_ms=7.5), [])
    one = await telemetry.stats("f")
    assert one.duration_p50_ms == one.duration_p99_ms == 7.5

    empty = await telemetry.stats("nothing")
    assert (empty.invocations, empty.errors, empty.cold_starts) == (0, 0, 0)
    assert empty.duration_p50_ms is None and empty.duration_p99_ms is None
    assert empty.init_duration_avg_ms is None and empty.instance_wait_avg_ms is None
    assert (empty.billed_duration_ms, empty.gb_seconds, empty.cost_usd) == (0, 0.0, 0.0)


async def test_log_retention_drops_oldest_lines_and_keeps_newest(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.db"
    async with open_telemetry(path, log_retention_bytes=100) as telemetry:
        # 10-byte lines over several flushes: the running total must carry across batches.
        for batch in range(3):
            lines = [(T0 + batch * 10 + i, f"line-{batch}{i}-xx") for i in range(10)]
            telemetry.record(make_record(f"r{batch}"), lines)
            await telemetry.flush()
        telemetry.record(make_record("g1", function="g"), [(T0, "other function")])
        kept = await telemetry.logs("f")
        assert [line.message for line in kept] == [f"line-2{i}-xx" for i in range(10)]
        assert len(await telemetry.logs("g")) == 1

    # The byte count survives a restart: one more line pushes out exactly the oldest one.
    async with open_telemetry(path, log_retention_bytes=100) as telemetry:
        telemetry.record(make_record("r3"), [(T0 + 100, "line-30-xx")])
        kept = await telemetry.logs("f")
        assert [line.message for line in kept] == [
            *(f"line-2{i}-xx" for i in range(1, 10)),
            "line-30-xx",
        ]


async def test_log_retention_counts_utf8_bytes(tmp_path: Path) -> None:
    async with open_telemetry(tmp_path / "t.db", log_retention_bytes=8) as telemetry:
        telemetry.record(make_record(), [(T0, "가나"), (T0 + 1, "다라")])  # 6 bytes each
        assert [line.message for line in await telemetry.logs("f")] == ["다라"]


async def test_record_retention_keeps_newest(tmp_path: Path) -> None:
    async with open_telemetry(tmp_path / "t.db", record_retention=5) as telemetry:
        for i in range(8):
            telemetry.record(make_record(f"r{i}", timestamp=T0 + i), [])
            if i % 3 == 0:
                await telemetry.flush()
        records = await telemetry.records("f")
        assert [r.request_id for r in records] == ["r3", "r4", "r5", "r6", "r7"]


async def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.db"
    async with open_telemetry(path) as telemetry:
        telemetry.record(make_record("r1"), invocation_lines("r1", T0))
        # No flush(): aclose() must write what is buffered.
    async with open_telemetry(path) as telemetry:
        assert [r.request_id for r in await telemetry.records("f")] == ["r1"]
        assert len(await telemetry.logs("f", request_id="r1")) == 3


async def test_batch_size_wakes_the_flusher(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.db"
    async with open_telemetry(path, flush_batch=4) as telemetry:
        for i in range(3):
            telemetry.record(make_record(f"r{i}"), invocation_lines(f"r{i}", T0 + i))
        for _ in range(10):
            await asyncio.sleep(0)
        assert telemetry.records_written == 0  # below the batch size, the interval is an hour

        telemetry.record(make_record("r3"), [])
        await asyncio.wait_for(telemetry.wait_written(4), timeout=10)
        assert count_rows(path, "invocations") == 4
        assert count_rows(path, "logs") == 9


async def test_interval_flushes_a_quiet_buffer(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.db"
    async with open_telemetry(path, flush_interval=0.01) as telemetry:
        telemetry.record(make_record(), [(T0, "just one")])
        await asyncio.wait_for(telemetry.wait_written(1), timeout=10)
        assert count_rows(path, "logs") == 1


async def test_full_buffer_drops_oldest_lines_without_raising(tmp_path: Path) -> None:
    async with open_telemetry(tmp_path / "t.db", max_buffered_lines=5) as telemetry:
        telemetry.record(make_record(), [(T0 + i, f"line {i}") for i in range(8)])
        assert telemetry.dropped_lines == 3
        lines = await telemetry.logs("f")
        assert [line.message for line in lines] == [f"line {i}" for i in range(3, 8)]


async def test_full_record_buffer_drops_oldest_records(tmp_path: Path) -> None:
    async with open_telemetry(tmp_path / "t.db", max_buffered_records=2) as telemetry:
        for i in range(3):
            telemetry.record(make_record(f"r{i}"), [])
        assert telemetry.dropped_records == 1
        assert [r.request_id for r in await telemetry.records("f")] == ["r1", "r2"]


async def test_delete_function(telemetry: Telemetry) -> None:
    telemetry.record(make_record("r1"), invocation_lines("r1", T0))
    telemetry.record(make_record("g1", function="g"), invocation_lines("g1", T0))
    await telemetry.flush()
    telemetry.record(make_record("r2"), invocation_lines("r2", T0 + 1))  # still buffered

    await telemetry.delete_function("f")

    assert await telemetry.logs("f") == []
    assert await telemetry.records("f") == []
    assert (await telemetry.stats("f")).invocations == 0
    assert len(await telemetry.logs("g")) == 3
    assert [r.request_id for r in await telemetry.records("g")] == ["g1"]


async def test_undecodable_output_does_not_lose_the_batch(telemetry: Telemetry) -> None:
    telemetry.record(make_record(), [(T0, "bad \udcff byte"), (T0 + 1, "fine")])
    lines = await telemetry.logs("f")
    assert [line.message for line in lines] == ["bad ? byte", "fine"]


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
