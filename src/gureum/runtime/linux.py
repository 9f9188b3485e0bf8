"""Thin ctypes wrappers for the Linux calls the sandbox needs and Python 3.11's os module lacks."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import platform
import socket
import struct

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
CAP_LAST = 63  # higher than any kernel's last capability; unknown ones fail harmlessly
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

# Mount flags a bind inherits from its source and may not drop inside a user namespace
# (statvfs reports them with the same bit values, except relatime).
_KEPT_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC | 1024 | 2048  # + MS_NOATIME, MS_NODIRATIME
_ST_RELATIME, _MS_RELATIME = 4096, 1 << 21

_SYSCALLS = {
    "x86_64": {"clone": 56, "pivot_root": 155, "keyctl": 250},
    "aarch64": {"clone": 220, "pivot_root": 41, "keyctl": 219},
}

# PyDLL keeps the GIL across calls: clone() must run with it held, between CPython's fork hooks.
_libc = ctypes.PyDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
]


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def _syscall_number(name: str) -> int:
    table = _SYSCALLS.get(platform.machine())
    if table is None:
        raise OSError(errno.ENOSYS, f"no {name} syscall number for {platform.machine()}")
    return table[name]


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {source or fstype} on {target}",
    )


def bind_readonly(source: str, target: str, recursive: bool = False) -> None:
    # A bind mount ignores MS_RDONLY on creation: the read-only flag needs a second, remount call.
    mount(source, target, None, MS_BIND | (MS_REC if recursive else 0))
    inherited = os.statvfs(source).f_flag
    kept = inherited & _KEPT_FLAGS | (_MS_RELATIME if inherited & _ST_RELATIME else 0)
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | kept)


def umount(target: str, flags: int = MNT_DETACH) -> None:
    _check(_libc.umount2(target.encode(), flags), f"umount {target}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def pivot_root(new_root: str, put_old: str) -> None:
    number = _syscall_number("pivot_root")
    _check(_libc.syscall(number, new_root.encode(), put_old.encode()), "pivot_root")


def join_new_session_keyring() -> None:
    """Leave the session keyring inherited from gureum: its keys must not be readable inside."""
    keyctl_join_session_keyring = 1
    number = _syscall_number("keyctl")
    _check(_libc.syscall(number, keyctl_join_session_keyring, None), "keyctl join")


def prctl(option: int, arg: int) -> None:
    _check(_libc.prctl(option, arg, 0, 0, 0), f"prctl {option}")


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def drop_capabilities() -> None:
    """Give up every capability, for good (the bounding set too, so no exec regains one)."""
    for cap in range(CAP_LAST + 1):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0:
            break
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def map_ids(uid_inside: int, uid_outside: int, gid_inside: int, gid_outside: int) -> None:
    """In a fresh user namespace: map one uid and one gid (all an unprivileged user may map)."""
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")  # required before an unprivileged process may write gid_map
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid_inside} {uid_outside} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid_inside} {gid_outside} 1")


def clone_process(flags: int, *, fork_hooks: bool = True) -> int:
    """fork() that also enters new namespaces: the child of a CLONE_NEWPID is PID 1 at once.

    Wrapped in CPython's own fork hooks, so locks, threading state and os.register_at_fork
    callbacks (random's reseed among them) behave exactly as after os.fork(). Without them
    (``fork_hooks=False``), for a single-threaded caller whose child only runs a little Python
    that takes no lock and starts no thread before it os.fork()s, where the hooks then run
    (the zygote's PID 1: docs/decisions/0017).
    """
    number = _syscall_number("clone")
    api = ctypes.pythonapi
    if fork_hooks:
        api.PyOS_BeforeFork()
    # SIGCHLD as the exit signal makes the child waitable like any forked child.
    pid = _libc.syscall(number, ctypes.c_ulong(flags | 17), None, None, None, None)
    if pid == 0:
        if fork_hooks:
            api.PyOS_AfterFork_Child()
        return 0
    err = ctypes.get_errno()
    if fork_hooks:
        api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(err, f"clone: {os.strerror(err)}")
    return int(pid)


def loopback_up() -> None:
    """Bring up lo in a fresh network namespace, so the function can still talk to itself."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))
