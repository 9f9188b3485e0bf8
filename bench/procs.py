"""Servers started as users start them, pinned to the server core, timed to their first answer.

Shared by the peers (bench/peers.py) and `gureum serve` restarts (bench/coldhttp.py), so both
are timed the same way: process start, then the port accepting a connection, then the first
correct answer to the echo request.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from bench.http import LOAD_CPU, PAYLOAD, SERVER_CPU, pinned

HOST = "127.0.0.1"
START_TIMEOUT_S, STOP_TIMEOUT_S = 120.0, 15.0
POLL_S = 0.005  # resolution of the start timings


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """How to start one server, and where it answers the echo."""

    command: list[str]
    cwd: Path
    port: int
    path: str  # the echo's URL path: the request is `POST path` with PAYLOAD
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{self.path}"


@dataclass(frozen=True, slots=True)
class Start:
    """One start: process start to first correct answer, and port open to first correct answer."""

    to_first_ms: float
    after_ready_ms: float


@dataclass(frozen=True, slots=True)
class Running:
    process: subprocess.Popen[bytes]
    start: Start
    body: bytes  # the server's exact answer to the echo, for wrk's check
    log: Path


class StartFailed(RuntimeError):
    """The server exited, or did not answer the echo correctly in time."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that were free a moment ago (the OS's choice for port 0)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in sockets]


def post(port: int, path: str, body: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
    """One POST on a new connection: (status, body)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def is_echo(status: int, body: bytes) -> bool:
    try:
        return 200 <= status < 300 and json.loads(body) == json.loads(PAYLOAD)
    except ValueError:
        return False


def log_tail(log: Path, chars: int = 1500) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def _accepting(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
        return True
    return False


def _first_answer(spec: ServerSpec, process: subprocess.Popen[bytes], log: Path) -> Running:
    started = time.perf_counter()
    deadline = time.monotonic() + START_TIMEOUT_S

    def check_alive() -> None:
        if process.poll() is not None:
            raise StartFailed(f"exited with {process.returncode}: {log_tail(log)}")
        if time.monotonic() > deadline:
            raise StartFailed(f"no correct answer in {START_TIMEOUT_S:.0f} s: {log_tail(log)}")

    while not _accepting(spec.port):
        check_alive()
        time.sleep(POLL_S)
    ready = time.perf_counter()
    while True:  # some servers open the port before they can answer: retry until they do
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, body = post(spec.port, spec.path, PAYLOAD.encode())
            if is_echo(status, body):
                break
        check_alive()
        time.sleep(POLL_S)
    done = time.perf_counter()
    start = Start((done - started) * 1000, (done - ready) * 1000)
    return Running(process, start, body, log)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server, then SIGKILL to what is left of its process group (it leads it:
    a reloader's worker or a handler child may outlive it)."""
    process.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_TIMEOUT_S)


@contextlib.contextmanager
def running(spec: ServerSpec, log: Path, pin: bool) -> Iterator[Running]:
    """Start the server (on SERVER_CPU when ``pin``) in its own session; yields once it
    answered the echo correctly; stops it and all its children on exit."""
    env = {**os.environ, **spec.env}
    with log.open("ab") as out:
        process = subprocess.Popen(
            pinned(SERVER_CPU, spec.command, pin), cwd=spec.cwd, env=env, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        yield _first_answer(spec, process, log)
    finally:
        stop(process)


@contextlib.contextmanager
def client_on_load_cpu(pin: bool) -> Iterator[None]:
    """Run this process (the client side) on LOAD_CPU meanwhile, as wrk is."""
    if not pin:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {LOAD_CPU})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


class Phase(Protocol):
    skipped: str  # why the phase stopped early, if it did


# What a bench phase may meet from a server that failed or went away.
PHASE_ERRORS = (
    RuntimeError, OSError, http.client.HTTPException, ClientError, BotoCoreError,
    subprocess.SubprocessError,
)  # fmt: skip


@contextlib.contextmanager
def stopped_early(out: Phase) -> Iterator[None]:
    """A failure ends the phase with the figures measured so far, and says why."""
    try:
        yield
    except PHASE_ERRORS as exc:
        out.skipped = f"stopped early: {type(exc).__name__}: {exc}".replace("\n", " ")[:400]
        print(f"  {out.skipped}", flush=True)
