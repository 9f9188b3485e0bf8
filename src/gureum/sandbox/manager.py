"""Host side of isolation: choose the level, keep a zygote per runtime, start and stop instances."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import resource
import select
import shutil
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidRuntimeException, ServiceException
from ..runtime import protocol
from ..types import IsolationLevel
from .cgroups import CgroupManager, InstanceCgroup, Limits
from .rootfs import HOSTNAME, SANDBOX_GID, SANDBOX_UID, template_spec
from .runtimes import find_interpreter
from .shells import ShellPool
from .zygote_client import RUNTIME_DIR, ExitStatus, ZygoteClient, ZygoteError

log = logging.getLogger("gureum.sandbox")

TASK_ROOT = "/var/task"
MAX_PROCESSES = 1024  # Lambda's per-environment process and thread limit
MAX_OPEN_FILES = 1024
EXIT_WAIT_S = 10.0
# How long destroy() itself waits for an instance's cgroup to empty before leaving the rest to
# a background task.
QUICK_REMOVAL_S = 1.0
# A shell's memory limit until it has a function: the runtime shim and its init need ~10 MB.
SHELL_MEMORY_MB = 128


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


def _alive(sandbox: Sandbox) -> bool:
    return not sandbox.has_exited()


async def _readable(fd: int) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


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
    # An instance forked from a snapshot is not the zygote's: it is watched and killed through
    # a pidfd of its own (opened once it is READY, when its pid on the host is known).
    pidfd: int | None = None
    forked: bool = False

    def has_exited(self) -> bool:
        if not self.forked:
            return self.zygote.has_exited(self.pid)
        if self.pidfd is None:
            return False
        # poll, not select: pidfds past 1024 are usual with hundreds of instances.
        poller = select.poll()
        poller.register(self.pidfd, select.POLLIN)
        return bool(poller.poll(0))


class SandboxManager:
    def __init__(
        self,
        work_dir: Path,
        code_root: Path,
        level: IsolationLevel | None = None,
        shells: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
        mounts: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.work_dir = work_dir
        self.mounts = tuple(mounts)  # host paths every sandbox sees elsewhere (read-only)
        self.code_root = code_root
        self.level: IsolationLevel = level or detect_level()
        self.cgroups = CgroupManager.detect() if self.level == "full" else None
        if self.level == "full" and self.cgroups is None:
            log.warning("no usable cgroups: instances get rlimits, not memory or CPU limits")
        raise_open_files_limit()
        self.zygotes: dict[str, ZygoteClient] = {}
        self.shells: dict[str, ShellPool[Sandbox]] = {}
        self.use_shells = shells
        self.monotonic = monotonic  # paces shell pools' demand window
        self.shell_ids = itertools.count(1)
        self.lingering: set[asyncio.Task[bool]] = set()  # cgroup removals still waiting
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
                rootfs = template_spec(interpreter, root, code_root, self.mounts)
            runtime_dir = self._runtime_copy() if self.drops_root else RUNTIME_DIR
            zygote = ZygoteClient(interpreter.executable, self.level, rootfs, runtime_dir)
            self.zygotes[runtime] = zygote
        return zygote

    async def spawn(self, spec: InstanceSpec) -> Sandbox:
        """Start an instance: a pre-isolated shell handed ``spec``'s function when one is ready,
        else a sandbox built from scratch. Raises ServiceException when the host cannot (out of
        fds, cgroups, a dead zygote); nothing it took is left behind, also when cancelled."""
        pool = self._shell_pool(spec.runtime)
        shell = pool.take() if pool is not None else None
        if shell is not None:
            try:
                self._hand_off(shell, spec)
                return shell
            except OSError as exc:
                log.warning("a shell could not take its function (%s): starting afresh", exc)
                await self.destroy(shell)
        limits = Limits(spec.memory_mb, MAX_PROCESSES)
        request = {**self._base_request(), **self._function_request(spec)}
        return await self._spawn(spec.runtime, spec.instance_id, request, limits)

    async def warm(self, runtime: str) -> None:
        """Start ``runtime``'s zygote and fill its shell pool now, ahead of its first cold start
        (a no-op where there are no shells)."""
        pool = self._shell_pool(runtime)
        if pool is not None:
            pool.refill()
            await pool.settle()

    async def settle_shells(self) -> None:
        """Wait until every runtime's shell pool has finished topping up (tests use this)."""
        for pool in list(self.shells.values()):
            await pool.settle()

    def _shell_pool(self, runtime: str) -> ShellPool[Sandbox] | None:
        # A rootless instance builds its own root, with its code in it, before it pivots:
        # there is no function-independent half to prepare ahead.
        if self.level == "rootless" or not self.use_shells:
            return None
        pool = self.shells.get(runtime)
        if pool is None:
            start = lambda: self._spawn_shell(runtime)  # noqa: E731
            pool = ShellPool(start, self.destroy, _alive, self.monotonic)
            self.shells[runtime] = pool
        return pool

    async def _spawn_shell(self, runtime: str) -> Sandbox:
        request = {**self._base_request(), "shell": True}
        limits = Limits(SHELL_MEMORY_MB, MAX_PROCESSES)
        return await self._spawn(runtime, f"shell-{next(self.shell_ids)}", request, limits)

    def _hand_off(self, shell: Sandbox, spec: InstanceSpec) -> None:
        """Give a shell its function: limits first (the host's side), then the function's half
        of the spec, on which the shell mounts its code, drops privileges and imports."""
        if shell.cgroup is not None:
            shell.cgroup.set_limits(Limits(spec.memory_mb, MAX_PROCESSES))
        # A few KB into an empty socket buffer: never blocks.
        shell.channel.sendall(protocol.encode(protocol.HANDOFF, self._function_request(spec)))

    async def _spawn(
        self, runtime: str, instance_id: str, request: dict[str, Any], limits: Limits
    ) -> Sandbox:
        zygote = self._zygote(runtime)

        async def ask_zygote(fds: list[int]) -> int:
            return await zygote.spawn(request, fds)

        return await self._launch(instance_id, limits, zygote, ask_zygote)

    async def _launch(
        self,
        instance_id: str,
        limits: Limits,
        zygote: ZygoteClient,
        start: Callable[[list[int]], Awaitable[int]],
    ) -> Sandbox:
        """Make an instance's cgroup, channel and output pipe, and ``start`` it with their fds
        (its channel, its output, its cgroup.procs files); ``start`` returns its pid. Nothing
        is left behind if that fails or is cancelled."""
        with contextlib.ExitStack() as on_failure, contextlib.ExitStack() as always:
            try:
                cgroup = None
                if self.cgroups is not None:
                    cgroup = self.cgroups.create(instance_id, limits)
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
                pid = await start([theirs.fileno(), output_write, *procs_fds])
            except (OSError, ZygoteError) as exc:
                raise ServiceException(f"could not start a sandbox: {exc}") from exc
            on_failure.pop_all()
        os.set_blocking(output_read, False)
        return Sandbox(pid, ours, output_read, zygote, cgroup)

    def _base_request(self) -> dict[str, Any]:
        """What every instance's sandbox needs, whatever its function."""
        return {
            "hostname": HOSTNAME,
            "uid": SANDBOX_UID,
            "gid": SANDBOX_GID,
            "nofile": min(MAX_OPEN_FILES, _hard_nofile()),
            "pids": MAX_PROCESSES,
        }

    def _function_request(self, spec: InstanceSpec) -> dict[str, Any]:
        """The function's half of a spawn request (a shell gets it in its HANDOFF frame)."""
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
        }

    def end_init(self, sandbox: Sandbox, memory_mb: int) -> None:
        """The instance's init is done: from now on it gets its memory's share of CPU only."""
        if sandbox.cgroup is not None:
            sandbox.cgroup.limit_cpu(Limits(memory_mb, MAX_PROCESSES))

    def replenish(self, runtime: str) -> None:
        """Top up ``runtime``'s shells: called once the cold start that took one has answered,
        so that starting a shell (a clone and its set-up, milliseconds of CPU) does not delay
        that answer."""
        pool = self.shells.get(runtime)
        if pool is not None:
            pool.refill()

    def kill(self, sandbox: Sandbox) -> None:
        if not sandbox.forked:
            sandbox.zygote.kill(sandbox.pid)
        elif sandbox.pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(sandbox.pidfd, signal.SIGKILL)
        elif sandbox.cgroup is not None:
            sandbox.cgroup.remove()  # not READY yet: whatever joined its cgroup goes

    async def wait_exit(self, sandbox: Sandbox) -> ExitStatus:
        if sandbox.exit_status is None:
            if not sandbox.forked:
                sandbox.exit_status = await sandbox.zygote.wait_exit(sandbox.pid)
            else:
                # Its snapshot reaps it and reports how it ended on its channel (EXITED); here
                # only that it is gone.
                if sandbox.pidfd is not None:
                    await _readable(sandbox.pidfd)
                sandbox.exit_status = ExitStatus(signal=signal.SIGKILL)
        return sandbox.exit_status

    async def fork(
        self,
        snapshot: Sandbox,
        control: socket.socket,
        instance_id: str,
        memory_mb: int,
        tmp_mb: int,
    ) -> Sandbox:
        """Ask ``snapshot`` (over ``control``, a copy of its channel) to fork an instance with a
        cgroup, channel and output of its own. Its FORKED reply comes on the snapshot's channel;
        call ``adopt`` once the new instance is READY."""
        meta = {
            "token": instance_id,  # echoed in the snapshot's reply
            "tmp_mb": tmp_mb,
            "private_tmp": self.level != "process",
            "uid": SANDBOX_UID,
            "gid": SANDBOX_GID,
        }

        async def ask_snapshot(fds: list[int]) -> int:
            socket.send_fds(control, [protocol.encode(protocol.FORK, meta)], fds)
            return 0  # known once it is READY: adopt()

        limits = Limits(memory_mb, MAX_PROCESSES)
        sandbox = await self._launch(instance_id, limits, snapshot.zygote, ask_snapshot)
        sandbox.forked = True
        return sandbox

    def adopt(self, sandbox: Sandbox, pid_in_snapshot: int) -> None:
        """A forked instance is READY: find its pid on the host and hold it by a pidfd."""
        if self.level == "process":
            pid = pid_in_snapshot  # no PID namespace: the same number
        else:
            assert sandbox.cgroup is not None  # forking needs cgroups at `full`
            pid = sandbox.cgroup.find_pid(pid_in_snapshot)
        sandbox.pid = pid
        sandbox.pidfd = os.pidfd_open(pid)

    @property
    def can_fork(self) -> bool:
        """Snapshots need a way to hold each fork: its own cgroup (at `full`) or the host's pid
        namespace (`process`). `rootless` instances have neither."""
        return self.level == "process" or (self.level == "full" and self.cgroups is not None)

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
        if sandbox.pidfd is not None:
            os.close(sandbox.pidfd)
            sandbox.pidfd = None
        if sandbox.cgroup is not None and not await _remove_cgroup(sandbox.cgroup, QUICK_REMOVAL_S):
            # A killed fork bomb's thousand processes can take many seconds to leave on a busy
            # host: finish the clean-up in the background instead of holding up the caller.
            task = asyncio.create_task(_remove_cgroup(sandbox.cgroup, None))
            self.lingering.add(task)
            task.add_done_callback(self.lingering.discard)

    async def settle(self) -> None:
        """Wait until shell pools are topped up and every destroyed instance's cgroup is gone
        (tests use this)."""
        await self.settle_shells()
        while self.lingering:
            await asyncio.wait(list(self.lingering))

    async def aclose(self) -> None:
        if self.lingering:
            # Bounded: a shutdown must end even if the kernel keeps a cgroup busy.
            _, pending = await asyncio.wait(list(self.lingering), timeout=EXIT_WAIT_S)
            for task in pending:
                task.cancel()
        for pool in self.shells.values():
            await pool.aclose()
        self.shells.clear()
        for zygote in self.zygotes.values():
            await zygote.aclose()
        self.zygotes.clear()


async def _remove_cgroup(cgroup: InstanceCgroup, within_s: float | None) -> bool:
    """Remove the cgroup once its processes have left; False if that took longer than
    ``within_s`` (None: keep trying). Processes of a dead PID namespace take a moment to leave
    (a thousand of them, seconds on a busy host); cgroup v1 has no event for it: poll, backing
    off."""
    loop = asyncio.get_running_loop()
    give_up = None if within_s is None else loop.time() + within_s
    delay = 0.005
    while not cgroup.remove():
        if give_up is not None and loop.time() >= give_up:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.25)
    return True
