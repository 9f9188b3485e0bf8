"""Servers started, timed to their first echo, and stopped with their children."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from bench import http, procs

# An echo server that also leaves a child behind, as a reloader or a handler process does.
ECHO_SERVER = """
import http.server, subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
class Echo(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
"""


def test_running_times_the_first_echo_and_stops_the_whole_group(tmp_path: Path) -> None:
    port = procs.free_ports(1)[0]
    spec = procs.ServerSpec([sys.executable, "-c", ECHO_SERVER, str(port)], tmp_path, port, "/")
    with procs.running(spec, tmp_path / "log", pin=False) as server:
        assert server.body == b'{"n": 1}'
        assert 0 < server.start.after_ready_ms <= server.start.to_first_ms
        children = http.descendants(server.process.pid)
        assert children  # the sleeper
    deadline = time.monotonic() + 5  # SIGKILL is delivered asynchronously
    while [pid for pid in children if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not [pid for pid in children if alive(pid)]


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, killed and not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_server_that_exits_is_reported(tmp_path: Path) -> None:
    port = procs.free_ports(1)[0]
    command = [sys.executable, "-c", "print('no such thing'); raise SystemExit(3)"]
    spec = procs.ServerSpec(command, tmp_path, port, "/")
    with (
        pytest.raises(procs.StartFailed, match="exited with 3: no such thing"),
        procs.running(spec, tmp_path / "log", pin=False),
    ):
        pass
