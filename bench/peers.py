"""The peers a user would otherwise pick, installed into a cache and driven as gureum is.

    python3 -m bench.peers [--quick] [--only NAME ...]

Each serves the same echo (`{"n": 1}` in, the same JSON out): a raw uvicorn ASGI app (the
ceiling: no platform at all), serverless-offline's Lambda Invoke endpoint with a Python handler,
Google's functions-framework and `chalice local`. Installs go to GUREUM_BENCH_CACHE (default
~/.cache/gureum-bench/: one venv per Python peer, one npm prefix) and are reused by later runs;
delete the directory to get the newest versions. A peer that cannot be installed or started is
reported as not measured, with the reason, and the others still run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import http, procs
from gureum.sandbox.runtimes import host_runtime

CACHE = Path(os.environ.get("GUREUM_BENCH_CACHE") or Path.home() / ".cache" / "gureum-bench")
INSTALL_TIMEOUT_S = 900


@dataclass(frozen=True, slots=True)
class Plan:
    """Starts timed per peer (the last one's server is then loaded), and wrk's seconds."""

    starts: int
    wrk: http.Plan


FULL, QUICK = Plan(5, http.FULL), Plan(1, http.QUICK)


class Unavailable(Exception):
    """A peer could not be installed or started; the message says why."""


@dataclass(frozen=True, slots=True)
class Install:
    root: Path  # a venv, or an npm prefix
    versions: dict[str, str]


@dataclass(frozen=True, slots=True)
class Load:
    """One wrk run against one server, and the CPU its processes spent on it."""

    connections: int
    rate: float  # 2xx per second
    p50_ms: float
    p99_ms: float
    failed: int  # non-2xx + socket errors + wrong bodies
    cpu_us: float  # CPU of the server and its child processes, per response
    foreign: float  # share of SERVER_CPU used by processes that are not the server's


@dataclass(slots=True)
class Result:
    name: str
    how: str = ""  # how it was run, for the method section
    versions: dict[str, str] = field(default_factory=dict)
    starts: list[procs.Start] = field(default_factory=list)
    loads: list[Load] = field(default_factory=list)
    skipped: str = ""

    def load(self, connections: int) -> Load | None:
        return next((x for x in self.loads if x.connections == connections), None)


def _run(command: Sequence[str | Path], what: str, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(
            [str(c) for c in command], cwd=cwd, capture_output=True, text=True,
            timeout=INSTALL_TIMEOUT_S, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise Unavailable(f"{what} failed ({done.returncode}): {' / '.join(tail)}")
    return done.stdout


def _stamped(root: Path, wanted: str) -> bool:
    """Whether ``root`` was installed from ``wanted`` (a stamp written after a full install)."""
    stamp = root / "bench-installed.txt"
    return stamp.exists() and stamp.read_text() == wanted


DISTRIBUTION_VERSIONS = (
    "import importlib.metadata as m, json, sys; "
    "print(json.dumps({d: m.version(d) for d in sys.argv[1:]}))"
)


def pip_env(name: str, requirements: Sequence[str], distributions: Sequence[str]) -> Install:
    """A venv of this Python with ``requirements``, created once under CACHE."""
    root, wanted = CACHE / f"venv-{name}", "\n".join(requirements)
    python = root / "bin" / "python"
    if not (_stamped(root, wanted) and python.exists()):
        print(f"  installing {' '.join(requirements)} into {root}", flush=True)
        shutil.rmtree(root, ignore_errors=True)
        _run([sys.executable, "-m", "venv", root], "python -m venv")
        pip: list[str | Path] = [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ]
        _run([*pip, *requirements], "pip install")
        (root / "bench-installed.txt").write_text(wanted)
    found = _run([python, "-c", DISTRIBUTION_VERSIONS, *distributions], "reading versions")
    return Install(root, json.loads(found))


def npm_env(packages: Sequence[str]) -> Install:
    """An npm prefix with ``packages``, installed once under CACHE."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise Unavailable("node and npm are not installed")
    root, wanted = CACHE / "npm", "\n".join(packages)
    if not _stamped(root, wanted):
        print(f"  installing {' '.join(packages)} into {root}", flush=True)
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        flags: list[str | Path] = ["--no-audit", "--no-fund", "--loglevel=error", "--prefix", root]
        _run([npm, "install", *flags, *packages], "npm install")
        (root / "bench-installed.txt").write_text(wanted)
    versions = {"node": _run([node, "--version"], "node --version").strip().lstrip("v")}
    for spec in packages:
        name = spec.rsplit("@", 1)[0] if spec.rfind("@") > 0 else spec
        manifest = json.loads((root / "node_modules" / name / "package.json").read_text())
        versions[name] = manifest["version"]
    return Install(root, versions)


# -- the peers: what each installs, the files of its echo project, and how it is started -------

UVICORN_APP = '''\
async def app(scope, receive, send):
    """The echo, with no framework: the body back, as JSON."""
    assert scope["type"] == "http"
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message.get("body", b""), message.get("more_body", False)
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
'''
FUNCTIONS_FRAMEWORK_MAIN = "def echo(request):\n    return request.get_json()\n"
CHALICE_APP = """\
from chalice import Chalice

app = Chalice(app_name="bench")


@app.route("/", methods=["POST"])
def echo():
    return app.current_request.json_body
"""
CHALICE_CONFIG = '{"version": "2.0", "app_name": "bench", "stages": {"dev": {}}}\n'
SERVERLESS_YML = f"""\
service: bench
frameworkVersion: "3"
provider:
  name: aws
  runtime: {host_runtime()}
functions:
  echo:
    handler: handler.handler
plugins:
  - serverless-offline
"""
LAMBDA_HANDLER = "def handler(event, context):\n    return event\n"
SERVERLESS_INVOKE = "/2015-03-31/functions/bench-dev-echo/invocations"


@dataclass(frozen=True, slots=True)
class Peer:
    key: str
    name: str
    how: str
    install: Callable[[], Install]
    files: dict[str, str]
    # (install, project dir, free ports) -> the server to start
    spec: Callable[[Install, Path, list[int]], procs.ServerSpec]


def _uvicorn(env: Install, work: Path, ports: list[int]) -> procs.ServerSpec:
    command = [str(env.root / "bin" / "python"), "-m", "uvicorn", "app:app", "--host", procs.HOST]
    command += ["--port", str(ports[0]), "--log-level", "warning", "--no-access-log"]
    return procs.ServerSpec(command, work, ports[0], "/")


def _functions_framework(env: Install, work: Path, ports: list[int]) -> procs.ServerSpec:
    command = [str(env.root / "bin" / "functions-framework"), "--target", "echo", "--source"]
    command += ["main.py", "--host", procs.HOST, "--port", str(ports[0])]
    return procs.ServerSpec(command, work, ports[0], "/")


def _chalice(env: Install, work: Path, ports: list[int]) -> procs.ServerSpec:
    command = [str(env.root / "bin" / "chalice"), "local", "--host", procs.HOST]
    return procs.ServerSpec([*command, "--port", str(ports[0])], work, ports[0], "/")


def _serverless_offline(env: Install, work: Path, ports: list[int]) -> procs.ServerSpec:
    with contextlib.suppress(FileExistsError):  # the plugin is resolved from the project dir
        (work / "node_modules").symlink_to(env.root / "node_modules")
    cli = env.root / "node_modules" / "serverless" / "bin" / "serverless.js"
    lambda_port, http_port, websocket_port, alb_port = ports
    command = ["node", str(cli), "offline", "start", "--host", procs.HOST]
    command += ["--lambdaPort", str(lambda_port), "--httpPort", str(http_port)]
    command += ["--websocketPort", str(websocket_port), "--albPort", str(alb_port)]
    # Its handler child is `python3` from PATH: the same interpreter as gureum's runtime.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    quiet = {"SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off"}
    env_vars = {"PATH": path, **quiet, "SLS_DEPRECATION_DISABLE": "*"}
    return procs.ServerSpec(command, work, lambda_port, SERVERLESS_INVOKE, env_vars)


PEERS = (
    Peer(
        "uvicorn", "uvicorn, raw ASGI echo (ceiling)",
        "`uvicorn app:app` (uvicorn[standard]: uvloop, httptools; 1 process), an ASGI app that "
        "returns the request body: no framework, no platform",
        lambda: pip_env("uvicorn", ["uvicorn[standard]"], ["uvicorn", "uvloop", "httptools"]),
        {"app.py": UVICORN_APP}, _uvicorn,
    ),
    Peer(
        "serverless-offline", "serverless-offline, Lambda Invoke",
        "`serverless offline start` (serverless@3 + serverless-offline@13, the newest pair: "
        "v14 needs serverless v4), `POST /2015-03-31/functions/bench-dev-echo/invocations` on "
        "its lambda port. Its `--useInProcess` applies to Node.js handlers only: a Python "
        "handler always runs in a `python3 invoke.py` child per concurrent instance (started "
        "on first use, reused, stdin/stdout JSON), as users run it",
        lambda: npm_env(["serverless@3", "serverless-offline@13"]),
        {"serverless.yml": SERVERLESS_YML, "handler.py": LAMBDA_HANDLER}, _serverless_offline,
    ),
    Peer(
        "functions-framework", "functions-framework (Google)",
        "`functions-framework --target echo` (its default server: gunicorn, 1 worker, "
        "gthread with 4 × cpu_count threads), an HTTP function returning `request.get_json()`",
        lambda: pip_env(
            "functions-framework", ["functions-framework"],
            ["functions-framework", "flask", "gunicorn"],
        ),
        {"main.py": FUNCTIONS_FRAMEWORK_MAIN}, _functions_framework,
    ),
    Peer(
        "chalice", "chalice local",
        "`chalice local` (its defaults: the auto-reloader parent and a worker child serving "
        "with http.server), a `POST /` route returning `current_request.json_body`",
        lambda: pip_env("chalice", ["chalice"], ["chalice"]),
        {"app.py": CHALICE_APP, ".chalice/config.json": CHALICE_CONFIG}, _chalice,
    ),
)  # fmt: skip


def drive(
    wrk: str, script: Path, url: str, server_pid: int, connections: int, seconds: int, pin: bool
) -> Load:
    """One wrk run; CPU is the server's and its descendants' (utime + stime, /proc)."""
    tree = [server_pid, *http.descendants(server_pid)]
    ticks, core = http.cpu_ticks(tree), http.core_ticks(http.SERVER_CPU)
    w = http.wrk_run(wrk, script, url, connections, seconds, pin)
    tree_after = [server_pid, *http.descendants(server_pid)]
    ticks_after, core_after = http.cpu_ticks(tree_after), http.core_ticks(http.SERVER_CPU)
    # Children started during the run count from zero.
    spent = sum(t - ticks.get(pid, 0) for pid, t in ticks_after.items())
    busy, total = core_after[0] - core[0], core_after[1] - core[1]
    responses = max(w["ok"] + w["throttled"] + w["other"], 1)
    load = Load(
        connections=connections, rate=w["ok"] / (w["duration_us"] / 1e6),
        p50_ms=w["p50_us"] / 1e3, p99_ms=w["p99_us"] / 1e3,
        failed=w["throttled"] + w["other"] + w["socket_errors"] + w["wrong_body"],
        cpu_us=spent * 1e6 / os.sysconf("SC_CLK_TCK") / responses,
        foreign=max(0, busy - spent) / max(total, 1),
    )  # fmt: skip
    print(
        f"    c={connections}: {load.rate:,.0f}/s, p50 {load.p50_ms:.3f} ms, p99 "
        f"{load.p99_ms:.3f} ms, failed {load.failed}, CPU/response {load.cpu_us:.0f} µs, "
        f"others on CPU {http.SERVER_CPU} {load.foreign:.0%}",
        flush=True,
    )
    return load


def measure_peer(peer: Peer, plan: Plan, wrk: str, pin: bool) -> Result:
    result = Result(peer.name, peer.how)
    print(f"  {peer.name}:", flush=True)
    try:
        install = peer.install()
        result.versions = install.versions
        with tempfile.TemporaryDirectory(prefix=f"gureum-bench-{peer.key}-") as tmp:
            # The log stays out of the project: chalice's reloader restarts on any change there.
            work, log = Path(tmp) / "project", Path(tmp) / "server.log"
            for name, text in peer.files.items():
                (work / name).parent.mkdir(parents=True, exist_ok=True)
                (work / name).write_text(text)
            for i in range(plan.starts):
                spec = peer.spec(install, work, procs.free_ports(4))
                with procs.running(spec, log, pin) as server:
                    result.starts.append(server.start)
                    print(
                        f"    start → first answer {server.start.to_first_ms:,.0f} ms (port "
                        f"open → first answer {server.start.after_ready_ms:,.1f} ms)",
                        flush=True,
                    )
                    if i == plan.starts - 1:
                        result.loads = _load(server, spec, plan.wrk, wrk, pin, Path(tmp))
    except (
        Unavailable, procs.StartFailed, OSError, RuntimeError, ValueError,
        subprocess.SubprocessError,
    ) as exc:  # fmt: skip
        # RuntimeError: wrk failed; ValueError: a body wrk's script cannot quote, bad JSON.
        result.skipped = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:400]
        print(f"    not measured: {result.skipped}", flush=True)
    return result


def _load(
    server: procs.Running,
    spec: procs.ServerSpec,
    plan: http.Plan,
    wrk: str,
    pin: bool,
    scratch: Path,
) -> list[Load]:
    """c=1, a discarded c=32 run (lets a peer scale out as gureum is let), then c=32."""
    script = scratch / "echo.lua"
    script.write_text(http.wrk_script(server.body))
    pid = server.process.pid
    latency = drive(wrk, script, spec.url, pid, 1, plan.latency_s, pin)
    http.wrk_run(wrk, script, spec.url, http.CONCURRENCY, plan.warmup_s, pin)
    load = drive(wrk, script, spec.url, pid, http.CONCURRENCY, plan.load_s, pin)
    return [latency, load]


def measure(plan: Plan, only: Sequence[str] = ()) -> list[Result]:
    """Every peer (or those named in ``only``), one after another."""
    wrk = http.ensure_wrk()
    chosen = [p for p in PEERS if not only or p.key in only]
    if wrk is None:
        return [Result(p.name, p.how, skipped="wrk is not installed") for p in chosen]
    pin = http.can_pin()
    with procs.client_on_load_cpu(pin):
        return [measure_peer(peer, plan, wrk, pin) for peer in chosen]


def to_json(results: Sequence[Result]) -> list[dict[str, Any]]:
    return [
        {
            "name": r.name, "versions": r.versions, "skipped": r.skipped,
            "starts": [(s.to_first_ms, s.after_ready_ms) for s in r.starts],
            "loads": [dataclasses.asdict(x) for x in r.loads],
        }
        for r in results
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(prog="python3 -m bench.peers", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 start and 3 s runs")
    parser.add_argument("--only", nargs="*", default=[], choices=[p.key for p in PEERS])
    args = parser.parse_args()
    print(json.dumps(to_json(measure(QUICK if args.quick else FULL, args.only)), indent=1))


if __name__ == "__main__":
    main()
