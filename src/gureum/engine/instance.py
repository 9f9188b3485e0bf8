"""One running instance as the engine sees it: its channel, its output, its state."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import json
import os
import socket
import sys
import termios
from dataclasses import dataclass
from typing import Any, cast

from ..runtime import protocol
from ..sandbox.manager import Sandbox, SandboxManager
from ..sandbox.zygote_client import ExitStatus
from ..types import FunctionConfig

CHANNEL_BUFFER = 64 * 1024
# Payloads up to this size go out in one write together with their frame header.
SMALL_BODY = 64 * 1024
# Beyond this much output in one invocation, the rest is dropped (and the log says so).
MAX_LOG_BYTES_PER_INVOCATION = 1024 * 1024


class InstanceGone(Exception):
    """The instance closed its channel or broke the protocol: it is dead or must be treated so.

    ``status`` is how its runtime ended, when the instance's init said so.
    """

    def __init__(self, reason: str, status: ExitStatus | None = None) -> None:
        super().__init__(reason)
        self.status = status


Frame = tuple[int, dict[str, Any], bytes]


@dataclass(frozen=True, slots=True)
class Reply:
    kind: int  # protocol.RESULT or protocol.ERROR
    meta: dict[str, Any]
    body: bytes


class OutputCapture:
    """Reads the instance's stdout+stderr pipe as it arrives, so the function never blocks on it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.chunks: list[bytes] = []
        self.size = 0
        self.dropped = 0
        self.closed = False
        asyncio.get_running_loop().add_reader(fd, self.read_available)

    def read_available(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.stop()
                return
            if self.size + len(data) <= MAX_LOG_BYTES_PER_INVOCATION:
                self.chunks.append(data)
                self.size += len(data)
            else:
                self.dropped += len(data)

    def carry(self, text: str) -> None:
        """Put ``text`` ahead of what the next take() returns (a snapshot's init output goes
        with its first fork's first invocation)."""
        self.chunks.insert(0, text.encode())
        self.size += len(text)

    def take(self, maybe_pending: bool = True) -> str:
        """Everything written since the last take (the runtime flushes before it replies).

        ``maybe_pending=False``: the runtime found its output pipe empty as it replied, so
        nothing can be waiting in it (a syscall saved on every quiet invocation)."""
        # The reply may be handled before the pipe's reader callback: ask the pipe (cheaper
        # than a read that fails with EAGAIN, the usual answer).
        if maybe_pending and not self.closed and _pending(self.fd):
            self.read_available()
        if not self.chunks and not self.dropped:
            return ""
        text = b"".join(self.chunks).decode("utf-8", "replace")
        if self.dropped:
            limit = MAX_LOG_BYTES_PER_INVOCATION
            text += f"\n[gureum] {self.dropped} bytes of output dropped (limit {limit})\n"
        self.chunks, self.size, self.dropped = [], 0, 0
        return text

    def stop(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self.fd)


class Channel(asyncio.Protocol):
    """The engine's end of an instance's socketpair: frames parsed as the bytes arrive.

    A bare protocol rather than asyncio streams: one callback per reply instead of three
    awaited reads. While nobody waits for a frame, reading pauses after CHANNEL_BUFFER bytes,
    so an instance flooding its channel while idle cannot fill our memory.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.frames: collections.deque[Frame] = collections.deque()
        self.waiter: asyncio.Future[None] | None = None
        self.writable: asyncio.Future[None] | None = None
        self.failure: InstanceGone | None = None
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports have the interface without being asyncio.Transport subclasses.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.failure is not None:
            return
        self.buffer += data
        try:
            self._parse()
        except InstanceGone as gone:
            self._fail(gone)
            return
        if self.frames:
            self._wake()
        elif self.waiter is None and len(self.buffer) > CHANNEL_BUFFER and not self.paused:
            self.paused = True
            assert self.transport is not None
            self.transport.pause_reading()

    def _parse(self) -> None:
        buffer = self.buffer
        while len(buffer) >= protocol.HEADER.size:
            kind, meta_len, body_len = protocol.HEADER.unpack_from(buffer)
            if meta_len > protocol.MAX_META or body_len > protocol.MAX_BODY:
                raise InstanceGone("frame too large")
            meta_end = protocol.HEADER.size + meta_len
            end = meta_end + body_len
            if len(buffer) < end:
                return
            try:
                meta = json.loads(buffer[protocol.HEADER.size : meta_end])
            except ValueError as exc:
                raise InstanceGone(f"malformed frame metadata: {exc}") from None
            body = bytes(buffer[meta_end:end])
            del buffer[:end]
            # Function code can write to the channel too: anything malformed ends the instance.
            if not isinstance(meta, dict):
                raise InstanceGone("frame metadata is not an object")
            if kind == protocol.EXITED:
                status = ExitStatus(meta.get("code"), meta.get("signal"))
                raise InstanceGone(f"runtime exited: {status.describe()}", status)
            self.frames.append((kind, meta, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(InstanceGone(str(exc) if exc else "channel closed"))
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)

    def pause_writing(self) -> None:
        self.writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        self.writable = None

    def _fail(self, gone: InstanceGone) -> None:
        if self.failure is None:
            self.failure = gone
            if self.transport is not None:
                self.transport.close()
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def read_frame(self) -> Frame:
        """The next frame; InstanceGone once the channel broke (frames before that first)."""
        while not self.frames:
            if self.failure is not None:
                raise self.failure
            self.waiter = asyncio.get_running_loop().create_future()
            if self.paused:
                self.paused = False
                assert self.transport is not None
                self.transport.resume_reading()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.frames.popleft()

    async def write(self, data: bytes, body: bytes) -> None:
        if self.failure is not None:
            raise self.failure
        assert self.transport is not None
        if len(body) <= SMALL_BODY:
            self.transport.write(data + body)  # one send: a copy costs less than a syscall
        else:
            self.transport.writelines((data, body))  # a large payload is not copied
        if self.writable is not None:
            await self.writable
            if self.failure is not None:
                raise self.failure


def _pending(fd: int) -> int:
    """Bytes waiting in a pipe."""
    count = bytearray(4)
    try:
        fcntl.ioctl(fd, termios.FIONREAD, count)
    except OSError:
        return 1  # let a read find out what is wrong
    return int.from_bytes(count, sys.byteorder)


class Instance:
    def __init__(
        self, instance_id: str, config: FunctionConfig, sandbox: Sandbox, manager: SandboxManager
    ) -> None:
        self.id = instance_id
        self.config = config
        self.sandbox = sandbox
        self.manager = manager
        self.output = OutputCapture(sandbox.output_fd)
        self.channel = Channel()
        self.init_ms: float | None = None
        self.restore_ms: float | None = None
        self.last_used = 0.0
        self.control: socket.socket | None = None  # a copy of the channel, if it may snapshot

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.connect_accepted_socket(lambda: self.channel, sock=self.sandbox.channel)

    async def read_frame(self) -> Frame:
        return await self.channel.read_frame()

    async def wait_ready(self) -> Frame:
        """Wait for the instance's READY (or INIT_ERROR) frame."""
        frame = await self.read_frame()
        if frame[0] == protocol.READY:
            init_ms = frame[1].get("init_ms")
            restore_ms = frame[1].get("restore_ms", 0.0)
            if not isinstance(init_ms, int | float) or not isinstance(restore_ms, int | float):
                raise InstanceGone("malformed READY frame")
            if isinstance(init_ms, bool) or isinstance(restore_ms, bool):
                raise InstanceGone("malformed READY frame")
            if "restore_ms" in frame[1]:
                self.restore_ms = float(restore_ms)  # forked from a snapshot: no init of its own
            else:
                self.init_ms = float(init_ms)
        elif frame[0] != protocol.INIT_ERROR:
            raise InstanceGone(f"unexpected frame kind {frame[0]} during init")
        return frame

    async def invoke(self, meta: dict[str, Any], payload: bytes) -> Reply:
        await self.channel.write(*protocol.encode_parts(protocol.INVOKE, meta, payload))
        kind, reply_meta, body = await self.read_frame()
        if kind not in (protocol.RESULT, protocol.ERROR):
            raise InstanceGone(f"unexpected frame kind {kind}")
        # A reply must name the request it answers: a late or forged one ends the instance.
        if reply_meta.get("id") != meta["id"]:
            raise InstanceGone("reply for another request")
        return Reply(kind, reply_meta, body)

    async def destroy(self) -> None:
        self.output.stop()
        if self.control is not None:
            self.control.close()
        if self.channel.transport is not None:
            self.channel.transport.close()
        await self.manager.destroy(self.sandbox)
