"""Invoke: synchronous, asynchronous (Event) and DryRun."""

from __future__ import annotations

import base64
import json
from typing import Any

from ...errors import InvalidParameterValueException, RequestTooLargeException
from ...runtime.bootstrap import UNMARSHAL_ERROR, UNMARSHAL_PREFIX
from ...types import InvokeOptions
from ..restjson import REQUEST_ID, InvalidRequestContentException
from .core import (
    ASYNC_PAYLOAD_LIMIT,
    LOG_TAIL_BYTES,
    SYNC_PAYLOAD_LIMIT,
    LambdaContext,
    function_of,
    operation,
    target,
)


@operation
async def invoke(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = target(ctx, p)
    config = function_of(ctx, p)
    payload: bytes = p.get("Payload", b"")
    kind = p.get("InvocationType", "RequestResponse")
    if kind == "DryRun":
        return {"StatusCode": 204}
    options = InvokeOptions(client_context=_client_context(p.get("ClientContext")))
    if kind == "Event":
        if len(payload) > ASYNC_PAYLOAD_LIMIT:
            raise RequestTooLargeException(
                f"Request must be smaller than {ASYNC_PAYLOAD_LIMIT} bytes for the Event invocation"
            )
        # 202 only once the event is on disk: from here on it is delivered, whatever happens.
        request_id = await ctx.platform.invoke_async(name, payload, qualifier)
        return {"StatusCode": 202, REQUEST_ID: request_id}
    if kind != "RequestResponse":
        raise InvalidParameterValueException(f"Unknown InvocationType: {kind}")
    if len(payload) > SYNC_PAYLOAD_LIMIT:
        raise RequestTooLargeException(
            f"Request must be smaller than {SYNC_PAYLOAD_LIMIT} bytes "
            "for the InvokeFunction operation"
        )
    result = await ctx.platform.invoke(config.name, payload, options, qualifier)
    if result.record.error_type == UNMARSHAL_ERROR:
        raise _not_json(result.payload)
    response: dict[str, Any] = {
        "StatusCode": 200,
        "Payload": result.payload,
        "ExecutedVersion": result.executed_version,
        "FunctionError": result.function_error,
        REQUEST_ID: result.record.request_id,
    }
    if p.get("LogType") == "Tail":
        tail = result.logs.encode()[-LOG_TAIL_BYTES:]
        response["LogResult"] = base64.b64encode(tail).decode()
    return response


def _not_json(error_body: bytes) -> InvalidRequestContentException:
    """The 400 Lambda answers for a payload that is not JSON. gureum never decodes payloads on
    the host (docs/decisions/0005): the runtime, which decodes the event anyway, found it out."""
    try:
        detail = str(json.loads(error_body)["errorMessage"]).removeprefix(UNMARSHAL_PREFIX)
    except (ValueError, KeyError, TypeError):
        detail = "not JSON"
    return InvalidRequestContentException(
        f"Could not parse request body into json: Could not parse payload into json: {detail}"
    )


def _client_context(encoded: str | None) -> str | None:
    """Lambda refuses a client context that is not base64-encoded JSON (it reaches the
    function as context.client_context)."""
    if encoded is None:
        return None
    try:
        decoded = json.loads(base64.b64decode(encoded, validate=True))
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict):
        raise InvalidRequestContentException(
            "Client context must be a valid Base64-encoded JSON object."
        )
    return encoded
