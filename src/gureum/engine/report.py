"""Lambda's platform error payloads (timeout, crash).

The START, END and REPORT lines are ``InvocationRecord`` methods (gureum.types): telemetry,
below the engine, derives them from stored records when a log is read."""

from __future__ import annotations

import json


def platform_error(request_id: str, error_type: str, message: str) -> bytes:
    """An error the platform reports for the function (timeout, crash), in Lambda's shape."""
    return json.dumps(
        {"errorMessage": f"RequestId: {request_id} Error: {message}", "errorType": error_type}
    ).encode()


def timeout_message(timeout_s: float) -> str:
    return f"Task timed out after {timeout_s:.2f} seconds"
