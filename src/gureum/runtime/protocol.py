"""The wire contract between the engine and a runtime instance, over the instance's socketpair.

A frame is a fixed header (kind, metadata length, body length), a small JSON metadata object, and
an opaque body. The body carries the event payload or the function's result as the bytes the
caller sent or the function returned: neither side of the host ever decodes it.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

HEADER = struct.Struct("!BII")

# engine -> runtime
INVOKE = 1
# runtime -> engine
READY = 2  # init finished; meta: {"init_ms": float}
INIT_ERROR = 3  # init failed; body: Lambda error JSON
RESULT = 4  # meta: {"maxrss_kb": int}; body: the handler's JSON result
ERROR = 5  # meta: {"maxrss_kb": int, "type": str}; body: Lambda error JSON
# instance's init process -> engine
EXITED = 6  # the runtime died; meta: {"code": int} or {"signal": int}
# engine -> a pre-isolated shell: its function; meta: the function's part of the spawn spec
HANDOFF = 7
# engine -> a READY instance, before any INVOKE: become its version's snapshot (run the
# before-snapshot hooks, then only fork); it answers SNAPSHOT_READY or INIT_ERROR
SNAPSHOT = 8
SNAPSHOT_READY = 9
# engine -> snapshot: fork an instance; fds: its channel, its output, its cgroup.procs files;
# meta: {"token": str, "tmp_mb": int, ...}. The snapshot answers FORKED {"token", "pid": <pid
# in its PID namespace>}, or FORK_FAILED {"token", "error"}.
FORK = 10
FORKED = 11
FORK_FAILED = 12

# Larger than Lambda's 6 MB synchronous limit plus framing, so a frame this size is a broken peer.
MAX_BODY = 64 * 1024 * 1024
MAX_META = 1024 * 1024


Frame = tuple[int, dict[str, Any], bytes]


class FrameReader:
    """Frames from a blocking socket, each read in as few ``recv`` calls as it arrived in."""

    def __init__(self, channel: socket.socket) -> None:
        self.channel = channel
        self.buffer = bytearray()

    def read(self) -> Frame | None:
        """The next frame, or None at the end of the stream."""
        buffer = self.buffer
        while True:
            missing = HEADER.size - len(buffer)
            if missing <= 0:
                kind, meta_len, body_len = HEADER.unpack_from(buffer)
                meta_end = HEADER.size + meta_len
                missing = meta_end + body_len - len(buffer)
                if missing <= 0:
                    meta = json.loads(buffer[HEADER.size : meta_end])
                    body = bytes(buffer[meta_end : meta_end + body_len])
                    del buffer[: meta_end + body_len]
                    return kind, meta, body
            chunk = self.channel.recv(max(missing, 65536))
            if not chunk:
                return None
            buffer += chunk


def encode(kind: int, meta: dict[str, Any], body: bytes = b"") -> bytes:
    return b"".join(encode_parts(kind, meta, body))


def encode_parts(kind: int, meta: dict[str, Any], body: bytes = b"") -> tuple[bytes, bytes]:
    """A frame as (header and metadata, body): to write without copying a large body."""
    meta_bytes = json.dumps(meta, separators=(",", ":")).encode()
    return HEADER.pack(kind, len(meta_bytes), len(body)) + meta_bytes, body


def error_body(
    error_type: str, message: str, request_id: str = "", stack: list[str] | None = None
) -> bytes:
    """Lambda's error JSON: what the caller reads when a function fails."""
    error = {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack or [],
    }
    return json.dumps(error).encode()
