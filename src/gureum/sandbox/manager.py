"""Host side of isolation: choose the level, keep a zygote per runtime, start and stop instances."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidRuntimeException, ServiceException
from ..types import IsolationLevel
from .cgroups import CgroupManager, InstanceCgroup, Limits
from .rootfs import HOSTNAME, SANDBOX_GID, SANDBOX_UID, template_spec
from .runtimes import find_interpreter
from .zygote_client import ExitStatus, ZygoteClient, ZygoteError

log = logging.getLogger("gureum.sandbox")

TASK_ROOT = "/var/task"
MAX_PROCESSES = 1024  # Lambda's per-environment process and thread limit
MAX_OPEN_FILES = 1024


def detect_level() -> IsolationLevel:
    if sys.platform == "linux" and os.geteuid() == 0:
        return "full"
    # Rootless (user namespaces) is not built yet: without root, instances are plain processes.
    return "process"


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    instance_id: str
    runtime: str
    handler: str
    code_sha256: str
    code_dir: Path  # host path of the unpacked code
    env: dict[str, str]
    memory_mb: int
    ephemeral_storage_mb: int


@dataclass(slots=True)
class Sandbox:
    """A started instance as the host sees it: its pid, its channel and its output pipe."""

    pid: int
    channel: socket.socket
    output_fd: int
    zygote: ZygoteClient
    cgroup: InstanceCgroup | None
    exit_status: ExitStatus | None = field(default=None)


class SandboxManager:
    def __init__(
        self, work_dir: Path, code_root: Path, level: IsolationLevel | None = None
    ) -> None:
        self.work_dir = work_dir
        self.code_root = code_root
        self.level: IsolationLevel = level or detect_level()
        self.cgroups = CgroupManager.detect() if self.level == "full" else None
        self.zygotes: dict[str, ZygoteClient] = {}
        if self.level == "process":
            log.warning("isolation level 'process': functions run UNISOLATED (development only)")

    def task_root(self, code_dir: Path) -> str:
        return str(code_dir) if self.level == "process" else TASK_ROOT

    def _zygote(self, runtime: str) -> ZygoteClient:
        zygote = self.zygotes.get(runtime)
        if zygote is None:
            interpreter = find_interpreter(runtime)
            if interpreter is None:
                raise InvalidRuntimeException(
                    f"The runtime {runtime} is not available on this host."
                )
            rootfs = None
            if self.level != "process":
                root = self.work_dir / f"root-{runtime}"
                rootfs = template_spec(interpreter, root, self.code_root)
            zygote = ZygoteClient(interpreter.executable, self.level, rootfs)
            self.zygotes[runtime] = zygote
        return zygote

    async def spawn(self, spec: InstanceSpec) -> Sandbox:
        zygote = self._zygote(spec.runtime)
        cgroup = None
        if self.cgroups is not None:
            cgroup = self.cgroups.create(spec.instance_id, Limits(spec.memory_mb, MAX_PROCESSES))
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        output_read, output_write = os.pipe()
        fds = [theirs.fileno(), output_write]
        procs_fds = cgroup.open_procs() if cgroup is not None else []
        code = self.task_root(spec.code_dir)
        if self.level != "process":
            code = f"/.code/{spec.code_sha256}"
        request = {
            "handler": spec.handler,
            "code": code,
            "task_root": self.task_root(spec.code_dir),
            "env": spec.env,
            "memory_mb": spec.memory_mb,
            "tmp_mb": spec.ephemeral_storage_mb,
            "hostname": HOSTNAME,
            "uid": SANDBOX_UID,
            "gid": SANDBOX_GID,
            "nofile": MAX_OPEN_FILES,
            "pids": MAX_PROCESSES,
        }
        try:
            pid = await zygote.spawn(request, fds + procs_fds)
        except ZygoteError as exc:
            ours.close()
            os.close(output_read)
            if cgroup is not None:
                cgroup.remove()
            raise ServiceException(f"could not start a sandbox: {exc}") from exc
        finally:
            theirs.close()
            os.close(output_write)
            for fd in procs_fds:
                os.close(fd)
        os.set_blocking(output_read, False)
        return Sandbox(pid, ours, output_read, zygote, cgroup)

    def kill(self, sandbox: Sandbox) -> None:
        sandbox.zygote.kill(sandbox.pid)

    async def wait_exit(self, sandbox: Sandbox) -> ExitStatus:
        if sandbox.exit_status is None:
            sandbox.exit_status = await sandbox.zygote.wait_exit(sandbox.pid)
        return sandbox.exit_status

    async def destroy(self, sandbox: Sandbox) -> None:
        """Kill the instance, wait until it is gone, and release what it held."""
        self.kill(sandbox)
        await self.wait_exit(sandbox)
        sandbox.channel.close()
        with contextlib.suppress(OSError):
            os.close(sandbox.output_fd)
        if sandbox.cgroup is not None:
            # Processes of a dead PID namespace can take a moment to leave their cgroup.
            for _ in range(50):
                if sandbox.cgroup.remove():
                    break
                await asyncio.sleep(0.01)

    async def aclose(self) -> None:
        for zygote in self.zygotes.values():
            await zygote.aclose()
        self.zygotes.clear()
