"""InvocationRecord's Lambda log lines, and the InvocationResult fields read from its record."""

from __future__ import annotations

import dataclasses

from gureum.types import InvocationRecord, InvocationResult

RECORD = InvocationRecord(
    function="f",
    version="3",
    request_id="rid",
    timestamp=1_800_000_000.0,
    duration_ms=12.3456,
    billed_duration_ms=13,
    memory_size_mb=256,
    max_memory_used_mb=41,
    init_duration_ms=None,
    cold_start=False,
    instance_wait_ms=0.5,
    error_type=None,
    gb_seconds=0.00325,
    cost_usd=0.000001,
)
REPORT = (
    "REPORT RequestId: rid\tDuration: 12.35 ms\tBilled Duration: 13 ms\t"
    "Memory Size: 256 MB\tMax Memory Used: 41 MB"
)


def test_record_formats_lambdas_lines() -> None:
    assert RECORD.start_line() == "START RequestId: rid Version: 3"
    assert RECORD.end_line() == "END RequestId: rid"
    assert RECORD.report_line() == REPORT
    cold = dataclasses.replace(RECORD, init_duration_ms=250.004, cold_start=True)
    assert cold.report_line() == f"{REPORT}\tInit Duration: 250.00 ms"
    assert RECORD.end_time == 1_800_000_000.0 + 12.3456 / 1000


def test_result_logs_wrap_the_output_in_start_end_and_report() -> None:
    result = InvocationResult(RECORD, b"{}", None, "printed\n\nlast line without newline")
    assert result.logs == (
        "START RequestId: rid Version: 3\nprinted\n\nlast line without newline\n"
        f"END RequestId: rid\n{REPORT}\n"
    )
    quiet = InvocationResult(RECORD, b"{}", None, "")
    assert quiet.logs == f"START RequestId: rid Version: 3\nEND RequestId: rid\n{REPORT}\n"


def test_result_reads_its_metering_fields_from_the_record() -> None:
    result = InvocationResult(RECORD, b'{"x": 1}', "Unhandled", "")
    assert (result.request_id, result.executed_version) == ("rid", "3")
    assert (result.duration_ms, result.billed_duration_ms) == (12.3456, 13)
    assert (result.memory_size_mb, result.max_memory_used_mb) == (256, 41)
    assert (result.init_duration_ms, result.cold_start) == (None, False)
    assert (result.instance_wait_ms, result.cost_usd) == (0.5, 0.000001)
    assert result.payload == b'{"x": 1}' and not result.ok
    assert InvocationResult(RECORD, b"1", None, "").ok
