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


class InstanceCgroup:
    """The cgroup directories of one instance (one per v1 controller, or one v2 directory)."""

    def __init__(self, directories: list[Path], unified: bool) -> None:
        self.directories = directories
        self.unified = unified
        self.limits: Limits | None = None  # as last written

    def set_limits(self, limits: Limits) -> None:
        """Memory, CPU share and process count: at creation, and when a shell gets its function
        (each write to cgroupfs costs ~0.1 ms on a cold start: only what changed is written)."""
        if limits == self.limits:
            return
        self.limits = limits
        memory = str(limits.memory_mb * 1024 * 1024)
        if self.unified:
            directory = self.directories[0]
            (directory / "memory.max").write_text(memory)
            with contextlib.suppress(OSError):  # only where swap accounting is on
                (directory / "memory.swap.max").write_text("0")
            weight = max(1, min(10000, 100 * limits.memory_mb // MB_PER_VCPU))
            (directory / "cpu.weight").write_text(str(weight))
            (directory / "pids.max").write_text(str(limits.pids))
            return
        memory_dir, cpu, pids = self.directories
        # memory+swap may never be below memory alone: raise it first, or lower it last.
        limit, memsw = (
            memory_dir / "memory.limit_in_bytes",
            memory_dir / "memory.memsw.limit_in_bytes",
        )
        raising = int(limit.read_text()) < int(memory)
        for path in (memsw, limit) if raising else (limit, memsw):
            try:
                path.write_text(memory)
            except OSError:
                if path is limit:
                    raise  # memsw exists only where swap accounting is on
        (cpu / "cpu.shares").write_text(str(max(2, 1024 * limits.memory_mb // MB_PER_VCPU)))
        (pids / "pids.max").write_text(str(limits.pids))

    def limit_cpu(self, limits: Limits) -> None:
        """Apply the CPU quota. Called once init is done: like Lambda, init runs unthrottled."""
        if self.unified:
            (self.directories[0] / "cpu.max").write_text(f"{limits.cpu_quota_us} {CFS_PERIOD_US}")
        else:
            (self.directories[1] / "cpu.cfs_quota_us").write_text(str(limits.cpu_quota_us))

    def find_pid(self, pid_in_namespace: int) -> int:
        """The host pid of the process in this cgroup that is ``pid_in_namespace`` in its own
        PID namespace (the innermost entry of its NSpid)."""
        for text in (self.directories[0] / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{text}/status").read_text()
                nspid = next(line for line in status.splitlines() if line.startswith("NSpid:"))
                if int(nspid.split()[-1]) == pid_in_namespace:
                    return int(text)
        raise ProcessLookupError(f"no process {pid_in_namespace} in {self.directories[0]}")

    def open_procs(self) -> list[int]:
        """Write-only fds on cgroup.procs, handed to the child so it can move itself in."""
        return [os.open(d / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC) for d in self.directories]

    def unthrottle(self) -> None:
        """Lift the CPU quota: processes being killed need CPU time to die, and a throttled fork
        bomb would otherwise take minutes to leave."""
        for directory in self.directories:
            for name, unlimited in (("cpu.cfs_quota_us", "-1"), ("cpu.max", "max")):
                with contextlib.suppress(OSError):
                    (directory / name).write_text(unlimited)

    def oom_killed(self) -> bool:
        for directory in self.directories:
            for name, marker in (
                ("memory.oom_control", "oom_kill "),
                ("memory.events", "oom_kill "),
            ):
                with contextlib.suppress(OSError):
                    for line in (directory / name).read_text().splitlines():
                        if line.startswith(marker) and int(line.split()[1]) > 0:
                            return True
        return False

    def remove(self) -> bool:
        """Kill anything left inside and remove the directories; False if one is still busy."""
        removed = True
        for directory in self.directories:
            with contextlib.suppress(OSError):
                for pid in (directory / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        os.kill(int(pid), signal.SIGKILL)
            try:
                directory.rmdir()
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
            for leftover in directory.iterdir():
                if leftover.is_dir():
                    InstanceCgroup([leftover], unified=False).remove()
            with contextlib.suppress(OSError):
                directory.rmdir()


class CgroupManager:
    def __init__(self, bases: dict[str, Path], unified: bool) -> None:
        self.bases = bases  # controller (or "" for v2) -> directory holding gureum's instances
        self.unified = unified

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
        if self.unified:
            directories = [self.bases[""] / name]
        else:
            directories = [self.bases[c] / name for c in CONTROLLERS]
        for directory in directories:
            directory.mkdir()
        cgroup = InstanceCgroup(directories, self.unified)
        if not self.unified:
            (directories[1] / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
        cgroup.set_limits(limits)
        return cgroup
