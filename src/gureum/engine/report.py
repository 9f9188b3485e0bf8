"""The log lines Lambda writes around every invocation, and its platform error payloads."""

from __future__ import annotations

import json


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(
    request_id: str,
    *,
    duration_ms: float,
    billed_ms: int,
    memory_mb: int,
    max_memory_mb: int,
    init_ms: float | None,
) -> str:
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed_ms} ms\tMemory Size: {memory_mb} MB\t"
        f"Max Memory Used: {max_memory_mb} MB"
    )
    if init_ms is not None:
        line += f"\tInit Duration: {init_ms:.2f} ms"
    return line


def platform_error(request_id: str, error_type: str, message: str) -> bytes:
    """An error the platform reports for the function (timeout, crash), in Lambda's shape."""
    return json.dumps(
        {"errorMessage": f"RequestId: {request_id} Error: {message}", "errorType": error_type}
    ).encode()


def timeout_message(timeout_s: float) -> str:
    return f"Task timed out after {timeout_s:.2f} seconds"
