"""Host side of isolation: choose the level, keep a zygote per runtime, start and stop instances."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import shutil
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidRuntimeException, ServiceException
from ..types import IsolationLevel
from .cgroups import CgroupManager, InstanceCgroup, Limits
from .rootfs import HOSTNAME, SANDBOX_GID, SANDBOX_UID, template_spec
from .runtimes import find_interpreter
from .zygote_client import RUNTIME_DIR, ExitStatus, ZygoteClient, ZygoteError

log = logging.getLogger("gureum.sandbox")

TASK_ROOT = "/var/task"
MAX_PROCESSES = 1024  # Lambda's per-environment process and thread limit
MAX_OPEN_FILES = 1024
EXIT_WAIT_S = 10.0


def _user_namespaces_allowed() -> bool:
    for path, minimum in (
        ("/proc/sys/user/max_user_namespaces", 1),
        ("/proc/sys/kernel/unprivileged_userns_clone", 1),  # Debian/Ubuntu kernels only
    ):
        with contextlib.suppress(OSError, ValueError):
            if int(Path(path).read_text()) < minimum:
                return False
    return os.path.exists("/proc/self/ns/user")


def _hard_nofile() -> int:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return hard if hard != resource.RLIM_INFINITY else MAX_OPEN_FILES


def raise_open_files_limit() -> None:
    """Every instance holds a few fds in gureum: take all the open files the host allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def detect_level() -> IsolationLevel:
    if sys.platform != "linux":
        return "process"
    if os.geteuid() == 0:
        return "full"
    return "rootless" if _user_namespaces_allowed() else "process"


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
    opt_dir: Path | None = None  # the function's layers, merged: mounted at /opt


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
        if self.level == "full" and self.cgroups is None:
            log.warning("no usable cgroups: instances get rlimits, not memory or CPU limits")
        raise_open_files_limit()
        self.zygotes: dict[str, ZygoteClient] = {}
        if self.level == "process":
            log.warning("isolation level 'process': functions run UNISOLATED (development only)")

    @property
    def drops_root(self) -> bool:
        """A root gureum asked for `rootless` runs its zygotes as nobody."""
        return self.level == "rootless" and os.geteuid() == 0

    def _runtime_copy(self) -> Path:
        # nobody may not reach gureum's own install (e.g. under /root): give it a readable copy.
        target = self.work_dir / "runtime"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(RUNTIME_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
        for path in (self.work_dir, *target.rglob("*"), target):
            path.chmod(0o755 if path.is_dir() else 0o644)
        return target

    def task_root(self, code_dir: Path) -> str:
        return str(code_dir) if self.level == "process" else TASK_ROOT

    def _zygote(self, runtime: str) -> ZygoteClient:
        zygote = self.zygotes.get(runtime)
        if zygote is None:
            interpreter = find_interpreter(runtime, for_anyone=self.drops_root)
            if interpreter is None:
                raise InvalidRuntimeException(
                    f"The runtime {runtime} is not available on this host."
                )
            rootfs = None
            if self.level != "process":
                root = self.work_dir / f"root-{runtime}"
                root.mkdir(parents=True, exist_ok=True)
                # Rootless instances bind their code straight from the host: no shared /.code.
                code_root = self.code_root if self.level == "full" else None
                rootfs = template_spec(interpreter, root, code_root)
            runtime_dir = self._runtime_copy() if self.drops_root else RUNTIME_DIR
            zygote = ZygoteClient(interpreter.executable, self.level, rootfs, runtime_dir)
            self.zygotes[runtime] = zygote
        return zygote

    async def spawn(self, spec: InstanceSpec) -> Sandbox:
        """Start an instance. Raises ServiceException when the host cannot (out of fds,
        cgroups, a dead zygote); nothing it took is left behind, also when cancelled."""
        zygote = self._zygote(spec.runtime)
        with contextlib.ExitStack() as on_failure, contextlib.ExitStack() as always:
            try:
                cgroup = None
                if self.cgroups is not None:
                    limits = Limits(spec.memory_mb, MAX_PROCESSES)
                    cgroup = self.cgroups.create(spec.instance_id, limits)
                    on_failure.callback(cgroup.remove)
                ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                on_failure.callback(ours.close)
                always.callback(theirs.close)
                output_read, output_write = os.pipe()
                on_failure.callback(os.close, output_read)
                always.callback(os.close, output_write)
                procs_fds = cgroup.open_procs() if cgroup is not None else []
                for fd in procs_fds:
                    always.callback(os.close, fd)
                request = self._request(spec)
                pid = await zygote.spawn(request, [theirs.fileno(), output_write, *procs_fds])
            except (OSError, ZygoteError) as exc:
                raise ServiceException(f"could not start a sandbox: {exc}") from exc
            on_failure.pop_all()
        os.set_blocking(output_read, False)
        return Sandbox(pid, ours, output_read, zygote, cgroup)

    def _request(self, spec: InstanceSpec) -> dict[str, Any]:
        """The zygote's spawn request for ``spec``."""
        code = str(spec.code_dir)
        opt = str(spec.opt_dir) if spec.opt_dir else None
        if self.level == "full":
            # The zygote sees the code cache at /.code: instances pick their trees from there.
            code = f"/.code/{spec.code_sha256}"
            opt = f"/.code/{spec.opt_dir.name}" if spec.opt_dir else None
        return {
            "handler": spec.handler,
            "code": code,
            "task_root": self.task_root(spec.code_dir),
            "opt": opt,
            "opt_root": opt if self.level == "process" and opt else "/opt",
            "env": spec.env,
            "memory_mb": spec.memory_mb,
            "tmp_mb": spec.ephemeral_storage_mb,
            "hostname": HOSTNAME,
            "uid": SANDBOX_UID,
            "gid": SANDBOX_GID,
            "nofile": min(MAX_OPEN_FILES, _hard_nofile()),
            "pids": MAX_PROCESSES,
        }

    def end_init(self, sandbox: Sandbox, memory_mb: int) -> None:
        """The instance's init is done: from now on it gets its memory's share of CPU only."""
        if sandbox.cgroup is not None:
            sandbox.cgroup.limit_cpu(Limits(memory_mb, MAX_PROCESSES))

    def kill(self, sandbox: Sandbox) -> None:
        sandbox.zygote.kill(sandbox.pid)

    async def wait_exit(self, sandbox: Sandbox) -> ExitStatus:
        if sandbox.exit_status is None:
            sandbox.exit_status = await sandbox.zygote.wait_exit(sandbox.pid)
        return sandbox.exit_status

    async def destroy(self, sandbox: Sandbox) -> None:
        """Kill the instance, wait until it is gone, and release what it held."""
        if sandbox.cgroup is not None:
            sandbox.cgroup.unthrottle()
        self.kill(sandbox)
        try:
            await asyncio.wait_for(self.wait_exit(sandbox), EXIT_WAIT_S)
        except TimeoutError:
            # Never block the caller on a process the kernel is slow to reap; the cgroup
            # clean-up below kills whatever is left, and the zygote reaps it later.
            log.warning("instance %s did not exit within %ss of SIGKILL", sandbox.pid, EXIT_WAIT_S)
        sandbox.channel.close()
        with contextlib.suppress(OSError):
            os.close(sandbox.output_fd)
        if sandbox.cgroup is not None:
            # Processes of a dead PID namespace take a moment to leave their cgroup (a thousand
            # of them, a few hundred ms). cgroup v1 has no event for it: poll, backing off.
            delay = 0.005
            for _ in range(40):
                if sandbox.cgroup.remove():
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.25)

    async def aclose(self) -> None:
        for zygote in self.zygotes.values():
            await zygote.aclose()
        self.zygotes.clear()
