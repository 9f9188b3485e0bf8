"""One S3 request and its reply, as the S3 handlers see them, and the reply on the wire."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.types import Receive, Send

from ..services.objects import ObjectStorage, Reading, Requester
from ..services.objects.errors import InvalidArgument


@dataclass(slots=True)
class S3Request:
    method: str
    bucket: str
    key: str
    query: Mapping[str, str]  # first value of each parameter
    headers: Mapping[str, str]  # lower-case names; repeated headers joined with ","
    receive: Receive
    requester: Requester
    endpoint: str  # scheme://host, for the URLs a reply names
    objects: ObjectStorage


@dataclass(slots=True)
class Reply:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    reading: Reading | None = None  # streamed after ``body``'s headers, instead of ``body``
    content_type: str = "application/xml"
    length: int | None = None  # a HEAD reply's Content-Length (it sends no body)


async def send_reply(send: Send, receive: Receive, reply: Reply, head: bool) -> None:
    """Sends ``reply``; an object's bytes stream a chunk at a time and stop if the client goes
    away. A HEAD reply keeps its Content-Length and sends no body."""
    headers = [(b"content-type", reply.content_type.encode("latin-1"))]
    headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
    reading = reply.reading
    length = reading.length if reading is not None else len(reply.body)
    if reply.length is not None:
        length = reply.length
    headers.append((b"content-length", str(length).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    if reading is None or head:
        if reading is not None:
            reading.close()
        await send({"type": "http.response.body", "body": b"" if head else reply.body})
        return
    try:
        first = await reading.read()
        rest = await reading.read() if first else b""
        if not rest:  # the usual small object: one message
            await send({"type": "http.response.body", "body": first})
            return
        gone = asyncio.create_task(_disconnected(receive))
        try:
            await send({"type": "http.response.body", "body": first, "more_body": True})
            chunk = rest
            while chunk and not gone.done():
                following = await reading.read()
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": bool(following)}
                )
                chunk = following
        finally:
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gone
    finally:
        reading.close()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def query_int(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """A numeric query parameter, capped at ``high``; InvalidArgument unless a number >= low."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if value < low:
        raise InvalidArgument(
            f"Provided {name} not an integer or within integer range",
            ArgumentName=name,
            ArgumentValue=raw,
        )
    return min(value, high)
