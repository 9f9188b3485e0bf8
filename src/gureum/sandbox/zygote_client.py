"""The engine's side of a zygote: start it, ask it for instances, hear when they exit."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import socket
import subprocess
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gureum.runtime

RUNTIME_DIR = Path(gureum.runtime.__file__).parent

# Loads gureum.runtime as a stand-alone package, so the zygote imports nothing but the standard
# library and the runtime itself (the rest of gureum, and its dependencies, stay outside).
_LAUNCHER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location(
    "gureum_runtime", sys.argv[1] + "/__init__.py", submodule_search_locations=[sys.argv[1]])
module = importlib.util.module_from_spec(spec)
sys.modules["gureum_runtime"] = module
spec.loader.exec_module(module)
from gureum_runtime import zygote
zygote.main(json.loads(sys.argv[2]))
"""

NOBODY = 65534

PRELOAD = ("json", "logging", "traceback", "decimal", "datetime", "base64", "uuid")


class ExitStatus:
    """How an instance ended, worded as Lambda words it ("signal: killed", "exit status 1")."""

    SIGNAL_NAMES: ClassVar[dict[int, str]] = {
        9: "killed",
        6: "aborted",
        11: "segmentation fault",
        15: "terminated",
    }

    def __init__(self, code: int | None = None, signal: int | None = None) -> None:
        self.code = code
        self.signal = signal

    def describe(self) -> str:
        if self.signal is not None:
            return f"signal: {self.SIGNAL_NAMES.get(self.signal, f'signal {self.signal}')}"
        return f"exit status {self.code}"


class ZygoteError(Exception):
    pass


@dataclass(eq=False, slots=True)
class _Outgoing:
    """A control message waiting for room in the zygote's socket."""

    data: bytes
    fds: list[int]
    token: int | None


class ZygoteClient:
    def __init__(
        self,
        executable: str,
        mode: str,
        rootfs: dict[str, Any] | None,
        runtime_dir: Path = RUNTIME_DIR,
    ) -> None:
        self.executable = executable
        self.runtime_dir = runtime_dir
        self.mode = mode
        self.rootfs = rootfs
        self.process: asyncio.subprocess.Process | None = None
        self.control: socket.socket | None = None
        self.tokens = itertools.count(1)
        self.pending: dict[int, asyncio.Future[int]] = {}
        self.exits: dict[int, asyncio.Future[ExitStatus]] = {}
        self.reader: asyncio.Task[None] | None = None
        self.started = asyncio.Lock()
        self.outbox: deque[_Outgoing] = deque()
        self.waiting_to_write = False

    @property
    def alive(self) -> bool:
        return (
            self.process is not None and self.process.returncode is None and self.reader is not None
        )

    async def ensure_started(self) -> None:
        async with self.started:
            if self.alive:
                return
            await self._start()

    async def _start(self) -> None:
        self._close_control()  # a previous zygote's, if it died
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        config = {
            "mode": self.mode,
            "control_fd": theirs.fileno(),
            "rootfs": self.rootfs,
            "preload": list(PRELOAD),
        }
        argv = [
            self.executable,
            "-I",
            "-S",
            "-c",
            _LAUNCHER,
            str(self.runtime_dir),
            json.dumps(config),
        ]
        # Rootless means no root anywhere: a root gureum runs a rootless zygote as nobody.
        drop: dict[str, Any] = {}
        if self.mode == "rootless" and os.geteuid() == 0:
            drop = {"user": NOBODY, "group": NOBODY, "extra_groups": []}
        # An empty environment: nothing of the platform's own can leak into instances.
        self.process = await asyncio.create_subprocess_exec(
            *argv,
            pass_fds=[theirs.fileno()],
            env={},
            stdin=subprocess.DEVNULL,
            cwd="/",
            # Not in gureum's process group or terminal session: signals meant for it (Ctrl-C)
            # are not the zygote's, and instances can't signal gureum's group.
            start_new_session=True,
            **drop,
        )
        theirs.close()
        ours.setblocking(False)
        self.control = ours
        self.reader = asyncio.create_task(self._read_loop(ours))

    async def _read_loop(self, control: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await loop.sock_recv(control, 65536)
                if not data:
                    break
                self._on_message(json.loads(data))
        except (OSError, ValueError):
            pass
        finally:
            self._fail_all(ZygoteError("the zygote exited"))

    def _on_message(self, message: dict[str, Any]) -> None:
        op = message["op"]
        if op == "spawned":
            self.exits.setdefault(message["pid"], asyncio.get_running_loop().create_future())
            future = self.pending.pop(message["token"], None)
            if future is not None and not future.done():
                future.set_result(message["pid"])
            else:
                # Its caller gave up (cancelled) before the zygote answered: nobody owns it.
                self.kill(message["pid"])
        elif op == "spawn_failed":
            future = self.pending.pop(message["token"], None)
            if future is not None and not future.done():
                future.set_exception(ZygoteError(message["error"]))
        elif op == "exited":
            status = ExitStatus(message.get("code"), message.get("signal"))
            exit_future = self.exits.setdefault(
                message["pid"], asyncio.get_running_loop().create_future()
            )
            if not exit_future.done():
                exit_future.set_result(status)

    def _fail_all(self, error: Exception) -> None:
        self.reader = None
        for future in self.pending.values():
            if not future.done():
                future.set_exception(error)
        self.pending.clear()
        for exit_future in self.exits.values():
            if not exit_future.done():
                # Instances die with their zygote (PDEATHSIG).
                exit_future.set_result(ExitStatus(signal=9))

    def _send(self, message: dict[str, Any], fds: list[int]) -> _Outgoing:
        """Queue a control message; it goes out at once unless the zygote's socket is full
        (a burst of cold starts), in which case it follows when the socket drains."""
        if self.control is None:
            raise ZygoteError("the zygote is not running")
        outgoing = _Outgoing(json.dumps(message).encode(), fds, message.get("token"))
        self.outbox.append(outgoing)
        self._flush()
        return outgoing

    def _flush(self) -> None:
        control = self.control
        while self.outbox and control is not None:
            outgoing = self.outbox[0]
            try:
                socket.send_fds(control, [outgoing.data], outgoing.fds)
            except BlockingIOError:
                if not self.waiting_to_write:
                    asyncio.get_running_loop().add_writer(control.fileno(), self._flush)
                    self.waiting_to_write = True
                return
            except OSError as exc:
                self.outbox.popleft()
                future = self.pending.pop(outgoing.token, None) if outgoing.token else None
                if future is not None and not future.done():
                    future.set_exception(ZygoteError(f"cannot reach the zygote: {exc}"))
                continue
            self.outbox.popleft()
        if self.waiting_to_write and control is not None:
            asyncio.get_running_loop().remove_writer(control.fileno())
            self.waiting_to_write = False

    async def spawn(self, spec: dict[str, Any], fds: list[int]) -> int:
        """Start an instance; returns its pid (in the host's PID namespace).

        ``fds`` must stay open until this returns; if it is cancelled first, the request is
        withdrawn (or, if already sent, the instance is killed once the zygote reports it).
        """
        await self.ensure_started()
        token = next(self.tokens)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.pending[token] = future
        outgoing = self._send({"op": "spawn", "token": token, **spec}, fds)
        try:
            return await future
        except asyncio.CancelledError:
            if outgoing in self.outbox:
                self.outbox.remove(outgoing)
            raise

    def has_exited(self, pid: int) -> bool:
        future = self.exits.get(pid)
        return future is not None and future.done()

    def kill(self, pid: int) -> None:
        with contextlib.suppress(ZygoteError):
            self._send({"op": "kill", "pid": pid}, [])

    async def wait_exit(self, pid: int) -> ExitStatus:
        future = self.exits.setdefault(pid, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.shield(future)
        finally:
            if future.done():
                self.exits.pop(pid, None)

    def _close_control(self) -> None:
        if self.control is None:
            return
        if self.waiting_to_write:
            asyncio.get_running_loop().remove_writer(self.control.fileno())
            self.waiting_to_write = False
        self.outbox.clear()
        self.control.close()
        self.control = None

    async def aclose(self) -> None:
        self._close_control()
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
