"""Per-instance cgroups for memory, CPU and process count, on cgroup v1 or v2 (whichever has them).

Instances get a cgroup each, below the cgroup gureum itself runs in (so a delegated subtree
works). CPU follows Lambda: 1769 MB of memory buys one full vCPU, less buys a proportional share.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

MB_PER_VCPU = 1769
# A short period spreads throttling thin: a 128 MB function waits at most ~19 ms for its next
# slice instead of ~93 ms with the kernel's default 100 ms period.
CFS_PERIOD_US = 20_000
CONTROLLERS = ("memory", "cpu", "pids")
PERIOD_TEXT = str(CFS_PERIOD_US)


def _own_cgroup_paths() -> dict[str, str]:
    """controller -> this process's cgroup path (key "" is the v2 unified hierarchy)."""
    paths: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            paths[controller.removeprefix("name=")] = path
    return paths


def _mounts() -> dict[str, str]:
    """v1 controller (or "" for cgroup2) -> its mount point."""
    found: dict[str, str] = {}
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, mount_point, fstype, options, *_ = line.split()
        if fstype == "cgroup2":
            found.setdefault("", mount_point)
        elif fstype == "cgroup":
            for option in options.split(","):
                if option in CONTROLLERS:
                    found[option] = mount_point
    return found


@dataclass(frozen=True, slots=True)
class Limits:
    memory_mb: int
    pids: int

    @property
    def cpu_quota_us(self) -> int:
        # At least 1 ms per period: below that, the kernel refuses the quota.
        return max(1000, CFS_PERIOD_US * self.memory_mb // MB_PER_VCPU)


def _write(path: str, text: str) -> None:
    # Plain syscalls, one fd per file: a burst creates hundreds of cgroups, and pathlib's
    # objects and text layers cost more than the kernel's side of a small cgroupfs write.
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _read(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode()


class InstanceCgroup:
    """The cgroup directories of one instance (one per v1 controller, or one v2 directory)."""

    def __init__(self, paths: list[str], unified: bool, swap_accounting: bool) -> None:
        self.paths = paths  # v1: memory, cpu, pids (CONTROLLERS' order); v2: the one directory
        self.unified = unified
        self.swap_accounting = swap_accounting  # memsw / swap.max files exist
        self.limits: Limits | None = None  # as last written; None: the kernel's (no limits)

    @property
    def directories(self) -> list[Path]:
        return [Path(path) for path in self.paths]

    def set_limits(self, limits: Limits) -> None:
        """Memory, CPU share and process count: at creation, and when a shell gets its function
        (each write to cgroupfs costs ~0.1 ms on a cold start: only what changed is written)."""
        previous = self.limits
        if limits == previous:
            return
        self.limits = limits
        memory = str(limits.memory_mb * 1024 * 1024)
        if self.unified:
            directory = self.paths[0]
            _write(f"{directory}/memory.max", memory)
            if self.swap_accounting and previous is None:
                _write(f"{directory}/memory.swap.max", "0")
            weight = max(1, min(10000, 100 * limits.memory_mb // MB_PER_VCPU))
            _write(f"{directory}/cpu.weight", str(weight))
            _write(f"{directory}/pids.max", str(limits.pids))
            return
        memory_dir, cpu, pids = self.paths
        limit = f"{memory_dir}/memory.limit_in_bytes"
        memsw = f"{memory_dir}/memory.memsw.limit_in_bytes"
        # memory+swap may never be below memory alone: raise it first, or lower it last. A new
        # cgroup has no limit: anything lowers it.
        raising = previous is not None and previous.memory_mb < limits.memory_mb
        order = (memsw, limit) if raising else (limit, memsw)
        for path in order if self.swap_accounting else (limit,):
            _write(path, memory)
        _write(f"{cpu}/cpu.shares", str(max(2, 1024 * limits.memory_mb // MB_PER_VCPU)))
        _write(f"{pids}/pids.max", str(limits.pids))

    def limit_cpu(self, limits: Limits) -> None:
        """Apply the CPU quota. Called once init is done: like Lambda, init runs unthrottled."""
        if self.unified:
            _write(f"{self.paths[0]}/cpu.max", f"{limits.cpu_quota_us} {CFS_PERIOD_US}")
        else:
            _write(f"{self.paths[1]}/cpu.cfs_quota_us", str(limits.cpu_quota_us))

    def find_pid(self, pid_in_namespace: int) -> int:
        """The host pid of the process in this cgroup that is ``pid_in_namespace`` in its own
        PID namespace (the innermost entry of its NSpid)."""
        for text in _read(f"{self.paths[0]}/cgroup.procs").split():
            with contextlib.suppress(OSError):
                status = _read(f"/proc/{text}/status")
                nspid = next(line for line in status.splitlines() if line.startswith("NSpid:"))
                if int(nspid.split()[-1]) == pid_in_namespace:
                    return int(text)
        raise ProcessLookupError(f"no process {pid_in_namespace} in {self.paths[0]}")

    def open_procs(self) -> list[int]:
        """Write-only fds on cgroup.procs, handed to the child so it can move itself in."""
        return [os.open(f"{d}/cgroup.procs", os.O_WRONLY | os.O_CLOEXEC) for d in self.paths]

    def unthrottle(self) -> None:
        """Lift the CPU quota: processes being killed need CPU time to die, and a throttled fork
        bomb would otherwise take minutes to leave."""
        with contextlib.suppress(OSError):
            if self.unified:
                _write(f"{self.paths[0]}/cpu.max", "max")
            else:
                _write(f"{self.paths[1]}/cpu.cfs_quota_us", "-1")

    def oom_killed(self) -> bool:
        name = "memory.events" if self.unified else "memory.oom_control"
        with contextlib.suppress(OSError):
            for line in _read(f"{self.paths[0]}/{name}").splitlines():
                if line.startswith("oom_kill ") and int(line.split()[1]) > 0:
                    return True
        return False

    def remove(self) -> bool:
        """Kill anything left inside and remove the directories; False if one is still busy."""
        return _remove_directories(self.paths)


def _remove_directories(paths: list[str]) -> bool:
    removed = True
    for directory in paths:
        with contextlib.suppress(OSError):
            for pid in _read(f"{directory}/cgroup.procs").split():
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGKILL)
        try:
            os.rmdir(directory)
        except FileNotFoundError:
            pass
        except OSError:
            removed = False
    return removed


def _sweep_dead_processes(bases: dict[str, Path]) -> None:
    """Remove what gureum processes that are gone left behind (after a crash or kill -9)."""
    for base in bases.values():
        for directory in base.iterdir():
            if not directory.name.isdigit() or not directory.is_dir():
                continue
            try:
                os.kill(int(directory.name), 0)
                continue  # that gureum is alive: its cgroups are its own business
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
            leftovers = [str(leftover) for leftover in directory.iterdir() if leftover.is_dir()]
            _remove_directories(leftovers)
            with contextlib.suppress(OSError):
                directory.rmdir()


class CgroupManager:
    def __init__(self, bases: dict[str, Path], unified: bool) -> None:
        self.bases = bases  # controller (or "" for v2) -> directory holding gureum's instances
        self.unified = unified
        # Paths built once: one instance's directories are these plus its name.
        self._base_paths = [str(bases[""])] if unified else [str(bases[c]) for c in CONTROLLERS]
        swap_file = "memory.swap.max" if unified else "memory.memsw.limit_in_bytes"
        # Only where swap accounting is on (looked up once, not tried on every instance).
        self.swap_accounting = os.path.exists(f"{self._base_paths[0]}/{swap_file}")

    @classmethod
    def detect(cls) -> CgroupManager | None:
        """The manager for this host, or None when cgroups can't be used (not root, not Linux)."""
        try:
            mounts, own = _mounts(), _own_cgroup_paths()
        except OSError:
            return None
        if all(c in mounts for c in CONTROLLERS):
            bases = {c: Path(mounts[c] + own.get(c, "/")) / "gureum" for c in CONTROLLERS}
            unified = False
        elif "" in mounts:
            base = Path(mounts[""] + own.get("", "/")) / "gureum"
            available = (base.parent / "cgroup.controllers").read_text().split()
            if not all(c in available for c in CONTROLLERS):
                return None
            bases, unified = {"": base}, True
        else:
            return None
        # Each gureum process keeps its instances under its own pid: several can share a host.
        own_bases = {c: base / str(os.getpid()) for c, base in bases.items()}
        try:
            for base in bases.values():
                base.mkdir(exist_ok=True)
            if unified:
                (bases[""] / "cgroup.subtree_control").write_text("+memory +cpu +pids")
            _sweep_dead_processes(bases)
            for base in own_bases.values():
                base.mkdir(exist_ok=True)
            if unified:
                (own_bases[""] / "cgroup.subtree_control").write_text("+memory +cpu +pids")
        except OSError:
            return None
        return cls(own_bases, unified)

    def create(self, name: str, limits: Limits) -> InstanceCgroup:
        """A new cgroup of its own for instance ``name``, with ``limits`` written."""
        paths = [f"{base}/{name}" for base in self._base_paths]
        made: list[str] = []
        try:
            for path in paths:
                os.mkdir(path)
                made.append(path)
            cgroup = InstanceCgroup(paths, self.unified, self.swap_accounting)
            if not self.unified:
                _write(f"{paths[1]}/cpu.cfs_period_us", PERIOD_TEXT)
            cgroup.set_limits(limits)
        except BaseException:
            _remove_directories(made)
            raise
        return cgroup
