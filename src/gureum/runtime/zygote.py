"""The zygote: one long-lived, single-threaded process per runtime that forks new instances.

It has the runtime already imported (and, at the isolating levels, already lives inside the
read-only template root), so an instance pays for a fork and its own few mounts, never for an
interpreter start. The engine talks to it over a SOCK_SEQPACKET control socket:

    engine -> zygote  {"op": "spawn", "token": n, ...spec}   fds: channel, output, cgroup.procs...
                      {"op": "kill", "pid": pid}
    zygote -> engine  {"op": "spawned", "token": n, "pid": pid} | {"op": "spawn_failed", ...}
                      {"op": "exited", "pid": pid, "code": c} | {..., "signal": s}

Instance exits are watched through pidfds, so a signal-free poll loop is all the zygote runs.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import selectors
import signal
import socket
import sys
import traceback
from typing import Any, NoReturn

from . import bootstrap, init, isolate, linux, protocol, snapshot_restore_py, template

CHANNEL_FD = 3
INSTANCE_OOM_SCORE = 1000
MAX_MESSAGE = 64 * 1024
MAX_FDS = 8


class Zygote:
    def __init__(
        self,
        control: socket.socket,
        mode: str,
        rootfs: dict[str, Any] | None,
        oom_score: int | None = None,
    ) -> None:
        self.control = control
        self.mode = mode
        self.rootfs = rootfs
        # Read now: inside a new user namespace, before its map is written, ids read as 65534.
        self.outside_ids = (os.getuid(), os.getgid())
        self.selector = selectors.DefaultSelector()
        self.selector.register(control, selectors.EVENT_READ)
        self.pidfds: dict[int, int] = {}  # pidfd -> pid
        self.oom_score = oom_score  # an fd on this process's oom_score_adj, if it could open it
        self.pidfd_by_pid: dict[int, int] = {}

    def send(self, message: dict[str, Any]) -> None:
        self.control.send(json.dumps(message).encode())

    def run(self) -> NoReturn:
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is self.control:
                    self.on_control()
                else:
                    self.on_exit(int(key.fd))

    def on_control(self) -> None:
        try:
            data, fds, _, _ = socket.recv_fds(self.control, MAX_MESSAGE, MAX_FDS)
        except ConnectionResetError:
            data, fds = b"", []
        if not data:
            self.shutdown()
        message = json.loads(data)
        if message["op"] == "spawn":
            self.spawn(message, fds)
        elif message["op"] == "kill":
            self.kill(message["pid"])

    def spawn(self, spec: dict[str, Any], fds: list[int]) -> None:
        channel_fd, output_fd, *cgroup_fds = fds
        # Memory is overcommitted: if the host runs out, its OOM killer must take an instance,
        # not the zygote (whose death ends them all) nor gureum. The child inherits the score
        # set just for its birth (after its clone it may no longer write its own /proc).
        self.set_oom_score(INSTANCE_OOM_SCORE)
        try:
            if self.mode == "process":
                pid = os.fork()
            elif self.mode == "rootless":
                pid = linux.clone_process(isolate.NAMESPACES | linux.CLONE_NEWUSER)
            else:
                pid = linux.clone_process(isolate.NAMESPACES, fork_hooks=False)
        except OSError as exc:
            self.set_oom_score(0)
            for fd in fds:
                os.close(fd)
            self.send({"op": "spawn_failed", "token": spec["token"], "error": str(exc)})
            return
        if pid == 0:
            self.become_instance(spec, channel_fd, output_fd, cgroup_fds)
        self.set_oom_score(0)
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        self.pidfds[pidfd] = pid
        self.pidfd_by_pid[pid] = pidfd
        self.selector.register(pidfd, selectors.EVENT_READ)
        self.send({"op": "spawned", "token": spec["token"], "pid": pid})

    def set_oom_score(self, score: int) -> None:
        if self.oom_score is not None:
            with contextlib.suppress(OSError):
                os.pwrite(self.oom_score, str(score).encode(), 0)

    def become_instance(
        self, spec: dict[str, Any], channel_fd: int, output_fd: int, cgroup_fds: list[int]
    ) -> NoReturn:
        """In the child: isolate, wire up the fds, then hand over to the runtime. Never returns.

        A shell (``spec["shell"]``) stops half-way: isolated, but with no function and still
        privileged, it waits for a HANDOFF frame with its function's part of the spec."""
        shell = bool(spec.get("shell"))
        try:
            # The zygote's fds go without touching its objects (closing the selector or each
            # pidfd would write to one object per live instance: page faults that grow with them).
            self.control.detach()  # its number may be reused once closed below
            _close_all_but(channel_fd, output_fd, *cgroup_fds)
            # A session of its own: no controlling terminal, and no process group shared with
            # gureum or other instances (kill(0, ...) must reach nothing but itself).
            os.setsid()
            linux.join_new_session_keyring()
            if self.mode == "full":
                # PID 1 joins the cgroups (the runtime inherits them) and splits off at once.
                isolate.join_cgroups(cgroup_fds)
                init.split_off_early(channel_fd, spec["uid"], spec["gid"])
            if self.mode == "process":
                if not shell:
                    isolate.enter_process(spec)
            elif self.mode == "rootless":
                assert self.rootfs is not None and not shell
                isolate.enter_rootless(spec, self.rootfs, self.outside_ids)
            elif shell:
                isolate.prepare_namespaced(spec)
            else:
                isolate.enter_namespaced(spec, with_cgroups=bool(cgroup_fds))
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(output_fd, 1)
            os.dup2(output_fd, 2)
            os.dup2(channel_fd, CHANNEL_FD)
            os.closerange(CHANNEL_FD + 1, 65536)
            os.environ.clear()
            if not shell:
                os.environ.update(spec["env"])
            channel = socket.socket(fileno=CHANNEL_FD)
        except BaseException:
            _sandbox_failed(channel_fd)
        try:
            frames = protocol.FrameReader(channel)
            if self.mode == "rootless":
                init.split_off_runtime(CHANNEL_FD)
            prepared = None
            if shell:
                prepared = bootstrap.prepare()
                spec = self.await_function(spec, frames, with_cgroups=bool(cgroup_fds))
            handler, task_root, opt_root = spec["handler"], spec["task_root"], spec["opt_root"]
            bootstrap.serve(channel, handler, task_root, opt_root, frames, prepared)
        finally:
            os._exit(1)

    def await_function(
        self, shell_spec: dict[str, Any], frames: protocol.FrameReader, with_cgroups: bool
    ) -> dict[str, Any]:
        """In a shell's runtime: wait for its function, then finish the sandbox for it."""
        frame = frames.read()
        if frame is None:
            os._exit(0)  # retired unused
        kind, function, _ = frame
        try:
            if kind != protocol.HANDOFF:
                raise RuntimeError(f"a shell expects HANDOFF, got frame kind {kind}")
            spec = {**shell_spec, **function}
            if self.mode == "process":
                isolate.enter_process(spec)
            else:
                isolate.finish_namespaced(spec, with_cgroups)
            os.environ.update(spec["env"])
        except BaseException:
            _sandbox_failed(CHANNEL_FD)
        return spec

    def kill(self, pid: int) -> None:
        pidfd = self.pidfd_by_pid.get(pid)
        if pidfd is None:
            return  # already reaped: never signal a pid that may have been reused
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        if self.mode == "process":
            # The instance leads its own session: take its descendants with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)

    def on_exit(self, pidfd: int) -> None:
        pid = self.pidfds.pop(pidfd)
        del self.pidfd_by_pid[pid]
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            self.send({"op": "exited", "pid": pid, "signal": os.WTERMSIG(status)})
        else:
            self.send({"op": "exited", "pid": pid, "code": os.waitstatus_to_exitcode(status)})

    def shutdown(self) -> NoReturn:
        # The engine is gone: no instance outlives it.
        for pid in list(self.pidfd_by_pid):
            self.kill(pid)
        os._exit(0)


def _close_all_but(*keep: int) -> None:
    """Close every fd above stderr but ``keep``."""
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 65536)


def _sandbox_failed(channel_fd: int) -> NoReturn:
    # A sandbox that cannot be built is the platform's failure, not the function's.
    body = protocol.error_body("Runtime.SandboxError", traceback.format_exc())
    os.write(channel_fd, protocol.encode(protocol.INIT_ERROR, {"platform": True}, body))
    os._exit(70)


def main(config: dict[str, Any]) -> NoReturn:
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    control = socket.socket(fileno=config["control_fd"])
    try:  # opened now: inside the template root there is no /proc
        oom_score: int | None = os.open("/proc/self/oom_score_adj", os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        oom_score = None
    if config["mode"] == "full":
        template.enter(config["rootfs"])
    for name in config.get("preload", []):
        __import__(name)
    # Lambda's SnapStart hooks module, under the name functions import it by.
    sys.modules["snapshot_restore_py"] = snapshot_restore_py
    # Objects alive now are shared copy-on-write by every instance: keep the GC from touching them.
    gc.collect()
    gc.freeze()
    sys.stdout.flush()
    Zygote(control, config["mode"], config["rootfs"], oom_score).run()
