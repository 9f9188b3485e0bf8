"""The steps a new instance takes on itself, in the child, before any user code runs."""

from __future__ import annotations

import os
import resource
import socket
from typing import Any

from . import linux, template
from .template import CODE_MOUNT

NAMESPACES = (
    linux.CLONE_NEWNS
    | linux.CLONE_NEWPID
    | linux.CLONE_NEWNET
    | linux.CLONE_NEWIPC
    | linux.CLONE_NEWUTS
)
SIGKILL = 9


def join_cgroups(procs_fds: list[int]) -> None:
    # Writing "0" moves the writer itself: everything the instance allocates from now is charged.
    for fd in procs_fds:
        os.write(fd, b"0")
        os.close(fd)


def mount_function_fs(spec: dict[str, Any], root: str = "") -> None:
    """This function's code (and layers) read-only, and a private /tmp of its size, under
    ``root``."""
    linux.bind_readonly(spec["code"], root + "/var/task")
    if spec.get("opt"):
        linux.bind_readonly(spec["opt"], root + "/opt")
    if not root:
        linux.umount(CODE_MOUNT)  # other functions' code disappears from this instance's view
    private = linux.MS_NOSUID | linux.MS_NODEV
    linux.mount("tmpfs", root + "/tmp", "tmpfs", private, f"size={spec['tmp_mb']}m,mode=1777")


def mount_shell_fs(root: str = "") -> None:
    """What every instance mounts whatever its function: /dev/shm and a fresh /proc."""
    private = linux.MS_NOSUID | linux.MS_NODEV
    linux.mount("tmpfs", root + "/dev/shm", "tmpfs", private, "size=64m,mode=1777")
    proc_flags = linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC
    linux.mount("proc", root + "/proc", "proc", proc_flags, "hidepid=2")


def set_limits(spec: dict[str, Any], with_cgroups: bool) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (spec["nofile"], spec["nofile"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if not with_cgroups:
        # Without a memory cgroup, cap the data segment; without a pids cgroup, the process count.
        data = spec["memory_mb"] * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (data, data))
        if os.getuid() != 0:
            resource.setrlimit(resource.RLIMIT_NPROC, (spec["pids"], spec["pids"]))


def drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    # Set after the uid change, which would clear it: if the zygote dies, so does the instance.
    linux.prctl(linux.PR_SET_PDEATHSIG, SIGKILL)


def prepare_namespaced(spec: dict[str, Any]) -> None:
    """The function-independent part of full isolation, in the runtime of a child created with
    NAMESPACES (its PID 1 has joined the cgroups and split off already): what a pre-isolated
    shell has done before it has a function."""
    mount_shell_fs()
    linux.loopback_up()
    socket.sethostname(spec["hostname"])


def finish_namespaced(spec: dict[str, Any], with_cgroups: bool) -> None:
    """The function's part: its code, its /tmp, its limits; then privileges go."""
    mount_function_fs(spec)
    set_limits(spec, with_cgroups)
    drop_privileges(spec["uid"], spec["gid"])


def enter_namespaced(spec: dict[str, Any], with_cgroups: bool) -> None:
    """Full isolation in one go (no shell was ready)."""
    prepare_namespaced(spec)
    finish_namespaced(spec, with_cgroups)


def enter_rootless(spec: dict[str, Any], rootfs: dict[str, Any], outside: tuple[int, int]) -> None:
    """Full isolation without root, in a child created with NAMESPACES | CLONE_NEWUSER.

    Without root the zygote cannot keep a template root, so each instance builds its own (about
    a millisecond more). /proc is mounted before the host's root is detached: the kernel allows a
    new proc in a user namespace only while a full one is visible. No cgroups: rlimits instead.
    """
    linux.map_ids(spec["uid"], outside[0], spec["gid"], outside[1])
    template.make_private()
    root = template.build(rootfs, seal=False)
    mount_function_fs(spec, root)
    mount_shell_fs(root)
    template.seal_root(root)
    template.pivot_into(root)
    linux.loopback_up()
    socket.sethostname(spec["hostname"])
    set_limits(spec, with_cgroups=False)
    linux.drop_capabilities()
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    linux.prctl(linux.PR_SET_PDEATHSIG, SIGKILL)


def enter_process(spec: dict[str, Any]) -> None:
    """No isolation beyond a session of its own and rlimits: the `process` level."""
    set_limits(spec, with_cgroups=False)
    linux.prctl(linux.PR_SET_PDEATHSIG, SIGKILL)
