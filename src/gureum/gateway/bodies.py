"""Reading a whole request body from ASGI, bounded: the APIs that parse theirs in one piece
(the Lambda API, SQS's JSON, functions' HTTP requests) share this one loop."""

from __future__ import annotations

from starlette.types import Receive

from ..errors import GureumError


class RequestEntityTooLargeException(GureumError):
    error_type = "RequestEntityTooLargeException"
    status = 413


class ClientDisconnected(GureumError):
    """The client went away before its request body arrived: nobody reads the answer."""

    error_type = "ClientDisconnected"
    status = 400


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; RequestEntityTooLargeException past ``limit`` bytes."""
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body"):  # the usual case: one message
        if len(body) > limit:
            raise RequestEntityTooLargeException(f"Request must be smaller than {limit} bytes")
        return bytes(body)
    chunks, size = [body], len(body)
    while message.get("more_body"):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected("client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestEntityTooLargeException(f"Request must be smaller than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
