"""The record a destination receives about an asynchronous invocation, in Lambda's shape.

    {"version": "1.0", "timestamp": "...Z",
     "requestContext": {"requestId", "functionArn", "condition", "approximateInvokeCount"},
     "requestPayload": <the event>, "responseContext": {...}, "responsePayload": <the result>}

Built only when a destination is configured, off the accept path: the one place the event and
result bytes are looked at is to embed them as JSON (as they are when they are JSON).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..types import InvocationResult

SUCCESS = "Success"
RETRIES_EXHAUSTED = "RetriesExhausted"
EVENT_AGE_EXCEEDED = "EventAgeExceeded"


def destination_record(
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    invoke_count: int,
    payload: bytes,
    result: InvocationResult | None,
    now: float,
) -> bytes:
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": _timestamp(now),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": _embedded(payload),
    }
    if result is not None:
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": result.executed_version}
        if result.function_error is not None:
            response["functionError"] = result.function_error
        record["responseContext"] = response
        record["responsePayload"] = _embedded(result.payload) if result.payload else None
    return json.dumps(record, separators=(",", ":")).encode()


def _embedded(data: bytes) -> Any:
    """JSON embeds as itself; anything else as a string (Lambda does the same)."""
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")


def _timestamp(now: float) -> str:
    # Lambda's form: 2019-11-14T18:16:05.568Z
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
