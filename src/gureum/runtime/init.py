"""PID 1 of an isolated instance: reaps orphans and reports how the runtime ended.

The runtime itself must not be PID 1: the kernel ignores signals a PID 1 sends itself (so
``os.abort()`` would turn into a segfault, and ``os.kill(os.getpid(), ...)`` into nothing), and a
PID 1 inherits every orphan, whose exit statuses it would steal from the function's own
``subprocess`` calls.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
from collections.abc import Callable
from typing import NoReturn

from . import isolate, linux, protocol


def split_off_runtime(channel_fd: int, before_serving: Callable[[], None] | None = None) -> None:
    """Fork: the child returns and becomes the runtime; this process stays behind as init
    (after ``before_serving``: a shell's init drops the privileges its runtime still needs)."""
    runtime_pid = os.fork()
    if runtime_pid == 0:
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        return
    if before_serving is not None:
        before_serving()
    _serve_as_init(runtime_pid, channel_fd)


def split_off_early(channel_fd: int, uid: int, gid: int) -> None:
    """Fork before the sandbox is built (full isolation, just after the clone): the child returns
    to build it and become the runtime; this process drops its privileges and stays behind as
    init, keeping only ``channel_fd``.

    The zygote clones PID 1 without CPython's fork hooks and this fork runs them, so they run
    once, in the runtime; and PID 1, which runs almost nothing, copies almost none of the
    zygote's memory on write (~300 page faults per instance instead of ~500: 0.2-0.5 ms).
    """
    runtime_pid = os.fork()
    if runtime_pid == 0:
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        return
    try:
        os.closerange(0, channel_fd)
        os.closerange(channel_fd + 1, 65536)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        isolate.drop_privileges(uid, gid)
    except BaseException:
        os.kill(runtime_pid, signal.SIGKILL)
        os._exit(70)
    _serve_as_init(runtime_pid, channel_fd)


def _serve_as_init(runtime_pid: int, channel_fd: int) -> NoReturn:
    while True:
        pid, status = os.wait()
        if pid != runtime_pid:
            continue  # an orphan of the function's: reaped, nothing more
        if os.WIFSIGNALED(status):
            meta, code = {"signal": os.WTERMSIG(status)}, 128 + os.WTERMSIG(status)
        else:
            code = os.waitstatus_to_exitcode(status)
            meta = {"code": code}
        # Tell the engine first-hand; our own exit then ends the whole PID namespace.
        with contextlib.suppress(OSError):
            os.write(channel_fd, protocol.encode(protocol.EXITED, meta))
        os._exit(code)
