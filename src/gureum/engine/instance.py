"""One running instance as the engine sees it: its channel, its output, its state."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from dataclasses import dataclass
from typing import Any

from ..runtime import protocol
from ..sandbox.manager import Sandbox, SandboxManager
from ..sandbox.zygote_client import ExitStatus
from ..types import FunctionConfig

CHANNEL_BUFFER = 64 * 1024
# Beyond this much output in one invocation, the rest is dropped (and the log says so).
MAX_LOG_BYTES_PER_INVOCATION = 1024 * 1024


class InstanceGone(Exception):
    """The instance closed its channel or broke the protocol: it is dead or must be treated so.

    ``status`` is how its runtime ended, when the instance's init said so.
    """

    def __init__(self, reason: str, status: ExitStatus | None = None) -> None:
        super().__init__(reason)
        self.status = status


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

    def take(self) -> str:
        """Everything written since the last take (the runtime flushes before it replies)."""
        self.read_available()
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


class Instance:
    def __init__(
        self, instance_id: str, config: FunctionConfig, sandbox: Sandbox, manager: SandboxManager
    ) -> None:
        self.id = instance_id
        self.config = config
        self.sandbox = sandbox
        self.manager = manager
        self.output = OutputCapture(sandbox.output_fd)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.init_ms: float | None = None
        self.last_used = 0.0

    async def connect(self) -> None:
        # A small buffer: readexactly() reads past it, and an instance flooding its channel
        # while idle is paused by the transport after this much instead of filling our memory.
        self.reader, self.writer = await asyncio.open_connection(
            sock=self.sandbox.channel, limit=CHANNEL_BUFFER
        )

    async def read_frame(self) -> tuple[int, dict[str, Any], bytes]:
        assert self.reader is not None
        try:
            header = await self.reader.readexactly(protocol.HEADER.size)
            kind, meta_len, body_len = protocol.HEADER.unpack(header)
            if meta_len > protocol.MAX_META or body_len > protocol.MAX_BODY:
                raise InstanceGone("frame too large")
            meta = json.loads(await self.reader.readexactly(meta_len))
            body = await self.reader.readexactly(body_len) if body_len else b""
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            raise InstanceGone(str(exc)) from exc
        # Function code can write to the channel too: anything malformed ends the instance.
        if not isinstance(meta, dict):
            raise InstanceGone("frame metadata is not an object")
        if kind == protocol.EXITED:
            status = ExitStatus(meta.get("code"), meta.get("signal"))
            raise InstanceGone(f"runtime exited: {status.describe()}", status)
        return kind, meta, body

    async def wait_ready(self) -> tuple[int, dict[str, Any], bytes]:
        """Wait for the instance's READY (or INIT_ERROR) frame."""
        frame = await self.read_frame()
        if frame[0] == protocol.READY:
            init_ms = frame[1].get("init_ms")
            if not isinstance(init_ms, int | float) or isinstance(init_ms, bool):
                raise InstanceGone("malformed READY frame")
            self.init_ms = float(init_ms)
        elif frame[0] != protocol.INIT_ERROR:
            raise InstanceGone(f"unexpected frame kind {frame[0]} during init")
        return frame

    async def invoke(self, meta: dict[str, Any], payload: bytes) -> Reply:
        assert self.writer is not None
        try:
            # Header and payload written apart: the payload is never copied into a new frame.
            self.writer.writelines(protocol.encode_parts(protocol.INVOKE, meta, payload))
            await self.writer.drain()
        except ConnectionError as exc:
            raise InstanceGone(str(exc)) from exc
        kind, reply_meta, body = await self.read_frame()
        if kind not in (protocol.RESULT, protocol.ERROR):
            raise InstanceGone(f"unexpected frame kind {kind}")
        # A reply must name the request it answers: a late or forged one ends the instance.
        if reply_meta.get("id") != meta["id"]:
            raise InstanceGone("reply for another request")
        return Reply(kind, reply_meta, body)

    async def destroy(self) -> None:
        self.output.stop()
        if self.writer is not None:
            self.writer.close()
        await self.manager.destroy(self.sandbox)
