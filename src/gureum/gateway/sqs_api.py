"""The SQS API (JSON protocol: ``X-Amz-Target: AmazonSQS.<Operation>``) over
``platform.queues``.

Errors take the JSON protocol's shape, ``{"__type": "com.amazonaws.sqs#QueueDoesNotExist",
"message": ...}``, plus the ``x-amzn-query-error: AWS.SimpleQueueService.NonExistentQueue;Sender``
header of a query-compatible service: botocore shows the header's code as ``Error.Code`` (the
code SQS had under its old Query protocol, which existing code compares against) and picks the
exception class (``client.exceptions.QueueDoesNotExist``) from ``__type``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import botocore.session
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import GureumError
from ..services.queues.errors import QueueError, UnsupportedOperation
from .bodies import ClientDisconnected, RequestEntityTooLargeException, read_body
from .lambda_api import LambdaContext
from .sqs_operations import OPERATIONS, Call
from .sqs_shapes import check_input

log = logging.getLogger("gureum.gateway.sqs")

TARGET_PREFIX = "AmazonSQS."
CONTENT_TYPE = b"application/x-amz-json-1.0"
# A batch of ten 1 MiB messages is refused by its size anyway; base64 and JSON add a third.
MAX_BODY_BYTES = 4 * 1024 * 1024


class SerializationException(QueueError):
    error_type = "SerializationException"
    query_code = "SerializationException"


class RequestTooLarge(QueueError):
    status = 413
    error_type = "RequestEntityTooLarge"
    query_code = "RequestEntityTooLarge"


class InternalError(QueueError):
    status = 500
    error_type = "InternalError"
    query_code = "InternalError"
    sender_fault = False


def sqs_app(context: Callable[[], LambdaContext]) -> ASGIApp:
    model = botocore.session.get_session().get_service_model("sqs")
    inputs = {name: model.operation_model(name).input_shape for name in OPERATIONS}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        try:
            operation = _operation_of(headers)
            body = await _read_body(receive)
            params = _parse(body)
            check_input(inputs[operation], params)
            call = Call(
                queues=context().platform.queues,
                params=params,
                endpoint=_endpoint(scope, headers),
                sender_id=_access_key(headers) or context().platform.queues.account,
            )
            handler = OPERATIONS[operation]
            if operation == "ReceiveMessage" and params.get("WaitTimeSeconds") != 0:
                # A long poll ends early if its client goes away: nobody would get its messages.
                result = await _unless_disconnected(handler(call), receive)
            else:
                result = await handler(call)
            status, payload, extra = 200, result, list[tuple[bytes, bytes]]()
        except QueueError as error:
            status, payload, extra = _error(error)
        except GureumError as error:
            status, payload, extra = _error(InternalError(error.message))
        except Exception:
            log.exception("unexpected error in the SQS API")
            status, payload, extra = _error(InternalError("Internal error in gureum"))
        if payload is None:
            return  # the client is gone
        reply = json.dumps(payload, separators=(",", ":")).encode()
        response_headers = [
            (b"content-type", CONTENT_TYPE),
            (b"content-length", str(len(reply)).encode()),
            (b"x-amzn-requestid", str(uuid.uuid4()).encode()),
            *extra,
        ]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": reply})

    return app


def _operation_of(headers: dict[bytes, bytes]) -> str:
    target = headers.get(b"x-amz-target", b"").decode("latin-1")
    if not target.startswith(TARGET_PREFIX):
        raise UnsupportedOperation(
            "gureum speaks SQS's JSON protocol only: send X-Amz-Target: AmazonSQS.<Operation> "
            "(any current AWS SDK or CLI does)"
        )
    operation = target[len(TARGET_PREFIX) :]
    if operation not in OPERATIONS:
        raise UnsupportedOperation(f"{operation} is not supported by gureum")
    return operation


async def _read_body(receive: Receive) -> bytes:
    """The body, or the refusals in SQS's words."""
    try:
        return await read_body(receive, MAX_BODY_BYTES)
    except ClientDisconnected as error:
        raise SerializationException(
            "The client disconnected before its request arrived."
        ) from error
    except RequestEntityTooLargeException as error:
        raise RequestTooLarge(f"Request must be smaller than {MAX_BODY_BYTES} bytes") from error


def _parse(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        params = json.loads(body)
    except ValueError:
        raise SerializationException("The request body is not valid JSON.") from None
    if not isinstance(params, dict):
        raise SerializationException("The request body must be a JSON object.")
    return params


def _endpoint(scope: Scope, headers: dict[bytes, bytes]) -> str:
    host = headers.get(b"host", b"").decode("latin-1")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


def _access_key(headers: dict[bytes, bytes]) -> str | None:
    """The access key id in a SigV4 Authorization header (SQS's SenderId)."""
    authorization = headers.get(b"authorization", b"")
    credential = authorization.partition(b"Credential=")[2].split(b"/", 1)[0]
    return credential.decode("latin-1") or None


async def _unless_disconnected(work: Any, receive: Receive) -> Any:
    """The result of ``work``, or None if the client disconnects first (work is cancelled)."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(receive())
    try:
        await asyncio.wait((task, watch), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
    if not task.done():
        task.cancel()
        return None
    return task.result()


def _error(error: QueueError) -> tuple[int, dict[str, str], list[tuple[bytes, bytes]]]:
    payload = {"__type": f"com.amazonaws.sqs#{error.error_type}", "message": error.message}
    fault = "Sender" if error.sender_fault else "Receiver"
    return error.status, payload, [(b"x-amzn-query-error", f"{error.query_code};{fault}".encode())]
