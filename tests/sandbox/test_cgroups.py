"""Per-instance cgroups, written through plain syscalls: each instance its own, with its limits."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gureum.sandbox.cgroups import CFS_PERIOD_US, CgroupManager, InstanceCgroup, Limits

MB = 1024 * 1024
_names = itertools.count()


@pytest.fixture
def cgroups() -> CgroupManager:
    manager = CgroupManager.detect()
    if manager is None:
        pytest.skip("no usable cgroups here (needs root and the memory, cpu and pids controllers)")
    return manager


@pytest.fixture
def made(cgroups: CgroupManager) -> Iterator[list[InstanceCgroup]]:
    created: list[InstanceCgroup] = []
    yield created
    for cgroup in created:
        assert cgroup.remove()


def _name() -> str:
    return f"test-{os.getpid()}-{next(_names)}"


def _read(cgroup: InstanceCgroup, v1: str, v2: str) -> str:
    name = v2 if cgroup.unified else v1
    found = [d / name for d in cgroup.directories if (d / name).exists()]
    assert len(found) == 1, (name, cgroup.directories)
    return found[0].read_text().strip()


def test_each_instance_gets_a_cgroup_of_its_own_with_its_limits(
    cgroups: CgroupManager, made: list[InstanceCgroup]
) -> None:
    small = cgroups.create(_name(), Limits(128, 64))
    made.append(small)
    large = cgroups.create(_name(), Limits(1769, 1024))
    made.append(large)
    assert not set(small.directories) & set(large.directories)
    assert int(_read(small, "memory.limit_in_bytes", "memory.max")) == 128 * MB
    assert int(_read(large, "memory.limit_in_bytes", "memory.max")) == 1769 * MB
    assert _read(small, "pids.max", "pids.max") == "64"
    if not small.unified:
        assert _read(small, "cpu.cfs_period_us", "cpu.max") == str(CFS_PERIOD_US)
        assert int(_read(small, "cpu.shares", "cpu.weight")) < int(
            _read(large, "cpu.shares", "cpu.weight")
        )
    if cgroups.swap_accounting and not small.unified:
        assert int(_read(small, "memory.memsw.limit_in_bytes", "")) == 128 * MB


@pytest.mark.parametrize("sizes", [(128, 3008), (3008, 128)], ids=["raise", "lower"])
def test_limits_can_be_raised_and_lowered_after_creation(
    cgroups: CgroupManager, made: list[InstanceCgroup], sizes: tuple[int, int]
) -> None:
    # A shell is made small and handed a function of any size: memory+swap may never be below
    # memory alone, so the order of the two writes depends on the direction.
    first, then = sizes
    cgroup = cgroups.create(_name(), Limits(first, 64))
    made.append(cgroup)
    cgroup.set_limits(Limits(then, 64))
    assert int(_read(cgroup, "memory.limit_in_bytes", "memory.max")) == then * MB
    if cgroups.swap_accounting and not cgroup.unified:
        assert int(_read(cgroup, "memory.memsw.limit_in_bytes", "")) == then * MB


def test_a_failed_creation_leaves_nothing_of_its_own_behind(cgroups: CgroupManager) -> None:
    if cgroups.unified:
        pytest.skip("one directory on cgroup v2: nothing is half-made")
    name = _name()
    taken = Path(cgroups.bases["pids"]) / name  # the last of the three already exists
    taken.mkdir()
    try:
        with pytest.raises(FileExistsError):
            cgroups.create(name, Limits(128, 64))
        assert not (cgroups.bases["memory"] / name).exists()
        assert not (cgroups.bases["cpu"] / name).exists()
        assert taken.is_dir()  # not ours to remove
    finally:
        taken.rmdir()


def test_a_removed_cgroup_is_gone(cgroups: CgroupManager) -> None:
    cgroup = cgroups.create(_name(), Limits(128, 64))
    assert cgroup.remove()
    assert not any(d.exists() for d in cgroup.directories)
    assert cgroup.remove()  # twice is harmless
