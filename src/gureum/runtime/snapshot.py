"""SnapStart for gureum: an instance whose init has run becomes its version's snapshot, and
every further instance of the version is forked from it, so init runs once per version.

The snapshot runs the before-snapshot hooks, then only forks. A fork moves itself into the cgroup
the engine made for it (the files come with the FORK frame), gets a /tmp of its own (a user and
mount namespace of its own: no privilege needed), takes its channel and output, runs the
after-restore hooks and answers READY with its restore time. Python's ``random`` re-seeds itself
in a forked child; the snapshot tells the engine when a fork exits (an EXITED frame on the
fork's channel), as an instance's init does for its runtime.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import selectors
import socket
import sys
import threading
import time
import traceback
from typing import Any

from . import isolate, linux, protocol, relay
from . import snapshot_restore_py as hooks

CHANNEL_FD = 3
MAX_FDS = 8
PR_SET_DUMPABLE = 4


def serve_as_snapshot(channel: socket.socket) -> tuple[socket.socket, float]:
    """Become the snapshot. Returns only in a forked instance: its channel, and when it began."""
    try:
        hooks.run_before_snapshot()
    except Exception as exc:
        body = protocol.error_body(
            type(exc).__name__, str(exc), "", traceback.format_exc().splitlines()
        )
        channel.sendall(protocol.encode(protocol.INIT_ERROR, {"type": type(exc).__name__}, body))
        os._exit(1)
    relay.stop()  # no thread may run when the snapshot forks; each fork starts its own
    _warn_about_threads()
    # What init made is shared copy-on-write by every fork: keep the collector from walking
    # (and so copying) it in each of them, as the zygote does for the runtime.
    gc.collect()
    gc.freeze()
    channel.sendall(protocol.encode(protocol.SNAPSHOT_READY, {}))
    selector = selectors.DefaultSelector()
    selector.register(channel, selectors.EVENT_READ)
    forks: dict[int, tuple[int, int]] = {}  # pidfd -> (pid, the fork's channel fd)
    while True:
        for key, _ in selector.select():
            if key.fileobj is channel:
                data, fds, _, _ = socket.recv_fds(channel, 65536, MAX_FDS)
                if not data:
                    os._exit(0)  # the engine let the snapshot go: its forks go with it
                started = time.perf_counter()
                kind, meta_len, _ = protocol.HEADER.unpack_from(data)
                meta = json.loads(data[protocol.HEADER.size : protocol.HEADER.size + meta_len])
                if kind != protocol.FORK or len(fds) < 2:
                    os._exit(70)  # only the engine writes here
                token = meta.get("token")
                try:
                    pid = os.fork()
                except OSError as exc:  # out of memory or processes: this fork only fails
                    for fd in fds:
                        os.close(fd)
                    failed = {"token": token, "error": str(exc)}
                    channel.sendall(protocol.encode(protocol.FORK_FAILED, failed))
                    continue
                if pid == 0:
                    selector.close()
                    for pidfd, (_, fork_channel) in forks.items():
                        os.close(pidfd)
                        os.close(fork_channel)
                    return _become_restored(channel, fds, meta), started
                channel_fd, *others = fds
                for fd in others:
                    os.close(fd)
                pidfd = os.pidfd_open(pid)
                forks[pidfd] = (pid, channel_fd)
                selector.register(pidfd, selectors.EVENT_READ)
                channel.sendall(protocol.encode(protocol.FORKED, {"pid": pid, "token": token}))
            else:
                pidfd = int(key.fd)
                pid, channel_fd = forks.pop(pidfd)
                selector.unregister(pidfd)
                os.close(pidfd)
                _, status = os.waitpid(pid, 0)
                if os.WIFSIGNALED(status):
                    exited: dict[str, Any] = {"signal": os.WTERMSIG(status)}
                else:
                    exited = {"code": os.waitstatus_to_exitcode(status)}
                # MSG_DONTWAIT: a fork that filled its channel must not stall the fork loop (its
                # file is shared with the fork: O_NONBLOCK on it would be the fork's too).
                with socket.socket(fileno=channel_fd) as exiting, contextlib.suppress(OSError):
                    frame = protocol.encode(protocol.EXITED, exited)
                    exiting.send(frame, socket.MSG_DONTWAIT)


def _warn_about_threads() -> None:
    """Threads the function's init started keep running in the snapshot, not in its forks (a
    fork has only the thread that forked): say so in the function's log, as what it wanted
    done in them will not be (decision 0008: start them in an after-restore hook)."""
    others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if others:
        print(
            f"SnapStart: {len(others)} thread(s) started during init ({', '.join(others)}) "
            "do not exist in the instances restored from the snapshot; start them in a "
            "register_after_restore hook",
            file=sys.stderr,
            flush=True,
        )


def _become_restored(
    snapshot_channel: socket.socket, fds: list[int], meta: dict[str, Any]
) -> socket.socket:
    """In a fork: become an instance of its own, then run the after-restore hooks."""
    channel_fd, output_fd, *procs_fds = fds
    try:
        # A fork does not inherit it: an instance never outlives its snapshot.
        linux.prctl(linux.PR_SET_PDEATHSIG, isolate.SIGKILL)
        isolate.join_cgroups(procs_fds)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        if meta.get("private_tmp"):
            _private_tmp(meta["tmp_mb"], meta["uid"], meta["gid"])
        snapshot_channel.detach()  # fd 3: replaced just below
        os.dup2(channel_fd, CHANNEL_FD)
        os.close(output_fd)
        os.close(channel_fd)
        channel = socket.socket(fileno=CHANNEL_FD)
    except BaseException:
        body = protocol.error_body("Runtime.SandboxError", traceback.format_exc())
        os.write(channel_fd, protocol.encode(protocol.INIT_ERROR, {"platform": True}, body))
        os._exit(70)
    try:
        relay.start_from_env()
        hooks.run_after_restore()
    except Exception as exc:
        error_type = type(exc).__name__
        body = protocol.error_body(error_type, str(exc), "", traceback.format_exc().splitlines())
        channel.sendall(protocol.encode(protocol.INIT_ERROR, {"type": error_type}, body))
        os._exit(1)
    return channel


def _private_tmp(size_mb: int, uid: int, gid: int) -> None:
    """A /tmp of this instance's own, though it has no privileges left: in a user namespace of
    its own (mapping its ids to themselves) it may mount a tmpfs in a mount namespace of its own.

    Hosts that forbid unprivileged user namespaces (a sysctl, AppArmor) leave the fork with the
    snapshot's /tmp, shared with its version's other forks: degraded, not failed."""
    linux.prctl(PR_SET_DUMPABLE, 1)  # else its /proc files are root's and its id maps unwritable
    try:
        linux.unshare(linux.CLONE_NEWUSER | linux.CLONE_NEWNS)
        linux.map_ids(uid, uid, gid, gid)
        linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
        private = linux.MS_NOSUID | linux.MS_NODEV
        linux.mount("tmpfs", "/tmp", "tmpfs", private, f"size={size_mb}m,mode=1777")
    except OSError as exc:
        print(f"[gureum] no private /tmp for this instance: {exc}", file=sys.stderr, flush=True)
    finally:
        with contextlib.suppress(OSError):
            linux.drop_capabilities()  # those the new user namespace gave, if it was made
        linux.prctl(PR_SET_DUMPABLE, 0)
