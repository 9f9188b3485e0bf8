"""The HTTP path: `gureum serve` in its own process, driven by wrk from outside it.

    python3 -m bench.http [--quick] [--profile DIR]

The server runs pinned to CPU 0 and wrk to CPU 1. Per memory size: deploy `return event` with
boto3, warm it, then `POST /2015-03-31/functions/NAME/invocations` with `{"n": 1}` over 1
connection (latency) and over 32 (throughput, after a discarded run that scales out), in two
layouts: the zygote and instances inherit CPU 0 (the whole platform on one core), then they are
moved to CPU 1 beside wrk (the server process alone on CPU 0, as in issue 3's floor).
`--profile DIR` samples the server with py-spy during a 128 MB run at 32 connections instead.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from gureum.sandbox.runtimes import host_runtime

PAYLOAD = '{"n": 1}'
HANDLER = "def handler(event, context):\n    return event\n"
# 128 MB is Lambda's default; 1769 MB buys a full vCPU, so no CPU quota is in reach.
MEMORY_SIZES = (128, 1769)
CONCURRENCY = 32
THROUGHPUT_FLOOR = 5000.0  # invocations/s at c=32 with the server on one core (issue 3)
# Where the platform's processes run during a measured run.
ONE_CORE = "platform on CPU 0"
SPLIT = "server on CPU 0, instances on CPU 1"
START_TIMEOUT_S, STOP_TIMEOUT_S = 60.0, 30.0
SERVER_CPU, LOAD_CPU = 0, 1


@dataclass(frozen=True, slots=True)
class Plan:
    """Seconds per wrk run: c=1, the discarded scale-out run at c=32, and c=32."""

    latency_s: int
    warmup_s: int
    load_s: int


FULL, QUICK = Plan(10, 3, 10), Plan(3, 1, 3)

# Every response is checked; done() sums the threads' counts and prints them as one JSON line.
_WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"n": 1}'
wrk.headers["Content-Type"] = "application/json"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok, other, throttled, wrong = 0, 0, 0, 0 end
local expected = [==[EXPECTED]==]
function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
    if body ~= expected then wrong = wrong + 1 end
  elseif status == 429 then throttled = throttled + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local n = {ok = 0, other = 0, throttled = 0, wrong = 0}
  for _, t in ipairs(threads) do
    for k, _ in pairs(n) do n[k] = n[k] + t:get(k) end
  end
  local e = summary.errors
  io.write(string.format(
    'GUREUM {"ok": %d, "throttled": %d, "other": %d, "wrong_body": %d, "duration_us": %d, ' ..
    '"socket_errors": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\\n',
    n.ok, n.throttled, n.other, n.wrong, summary.duration,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def wrk_script(expected: bytes = PAYLOAD.encode()) -> str:
    """wrk's Lua script, counting a 2xx whose body is not ``expected`` (byte for byte) as wrong."""
    text = expected.decode()
    if "]==]" in text:
        raise ValueError(f"cannot quote {text!r} as a Lua long string")
    return _WRK_SCRIPT.replace("EXPECTED", text)


@dataclass(frozen=True, slots=True)
class Run:
    """One measured wrk run, and what the platform's processes spent on it."""

    memory_mb: int
    connections: int
    layout: str  # ONE_CORE or SPLIT
    ok: int
    throttled: int  # 429s: instances were not allowed to scale out
    other: int  # any other non-2xx status
    wrong_body: int
    socket_errors: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    server_us: float  # CPU of the `gureum serve` process, per response
    instances_us: float  # CPU of its descendants (zygote, instances), per response
    foreign: float  # share of CPU 0 used by processes that are not the platform's (or server's)
    instances: int
    quota_throttled: int  # CFS periods in which an instance used up its CPU quota

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    @property
    def ceiling(self) -> float:
        """Responses/s CPU 0 could serve if what runs there had it to itself."""
        on_core = self.server_us + (self.instances_us if self.layout == ONE_CORE else 0)
        return 1e6 / on_core


@dataclass(slots=True)
class Outcome:
    """The HTTP phase's figures, or why there are none."""

    runs: list[Run] = field(default_factory=list)
    wrk: str = ""
    pinned: bool = False
    isolation: str = ""
    skipped: str = ""


def ensure_wrk() -> str | None:
    """wrk's path; installed with apt-get when missing and running as root."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    install = ["apt-get", "install", "-y", "wrk"]
    print(f"wrk missing: {' '.join(install)}", flush=True)
    for commands in ([install], [["apt-get", "update"], install]):  # then with fresh indexes
        for command in commands:
            subprocess.run(command, check=False, timeout=600, stdout=subprocess.DEVNULL)
        if found := shutil.which("wrk"):
            break
    return found


def wrk_version(wrk: str) -> str:
    # `wrk -v` prints its version and usage, and exits non-zero.
    text = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10).stdout
    return " ".join(text.split()[:2])


def can_pin() -> bool:
    return shutil.which("taskset") is not None and {SERVER_CPU, LOAD_CPU} <= os.sched_getaffinity(0)


def pinned(cpu: int, command: list[str], pin: bool) -> list[str]:
    return ["taskset", "-c", str(cpu), *command] if pin else command


@dataclass(slots=True)
class Server:
    url: str  # the management API (Lambda's)
    process: subprocess.Popen[bytes]
    isolation: str
    functions_url: str  # the user-facing listener: function URLs and HTTP routes


@contextlib.contextmanager
def open_server(data_dir: Path, log: Path, pin: bool) -> Iterator[Server]:
    """`gureum serve --port 0` on ``data_dir``, its user-facing listener on a free port too;
    returns once it announced both.

    Its output goes to ``log`` (a pipe nobody drains could stall it). Stopped with SIGTERM on
    exit, killed if it has not stopped within STOP_TIMEOUT_S.
    """
    env = {**os.environ, "GUREUM_DATA_DIR": str(data_dir), "GUREUM_HTTP_PORT": "0"}
    command = pinned(SERVER_CPU, [sys.executable, "-m", "gureum", "serve", "--port", "0"], pin)
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        banner = _wait_banner(process, log)
        yield Server(
            banner["gureum listening on "], process, banner["isolation: "], banner["functions at "]
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)


def _wait_banner(process: subprocess.Popen[bytes], log: Path) -> dict[str, str]:
    deadline = time.monotonic() + START_TIMEOUT_S
    prefixes = ("gureum listening on ", "isolation: ", "functions at ")
    while time.monotonic() < deadline and process.poll() is None:
        lines = log.read_text(errors="replace").splitlines()
        found = {p: line.removeprefix(p) for line in lines for p in prefixes if line.startswith(p)}
        if len(found) == len(prefixes):
            return found
        time.sleep(0.01)
    raise RuntimeError(f"gureum serve did not start: {log.read_text(errors='replace')[-2000:]}")


def lambda_client(url: str) -> Any:
    # No retries: a request that failed shows why (a retried CreateFunction would only say
    # "already exists").
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=60)
    return boto3.client(
        "lambda", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
        aws_secret_access_key="bench", config=config,
    )  # fmt: skip


def deploy(client: Any, name: str, memory_mb: int) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    client.create_function(
        FunctionName=name, Runtime=host_runtime(), Handler="app.handler", MemorySize=memory_mb,
        Role="arn:aws:iam::000000000000:role/bench", Code={"ZipFile": buffer.getvalue()},
    )  # fmt: skip
    for _ in range(20):  # the first starts an instance, the rest are warm
        reply = client.invoke(FunctionName=name, Payload=PAYLOAD.encode())
        if "FunctionError" in reply or json.loads(reply["Payload"].read()) != json.loads(PAYLOAD):
            raise RuntimeError(f"{name} does not echo its event: {reply}")


def _stat_fields(pid: int) -> list[str]:
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(root: int) -> list[int]:
    """``root``'s descendant processes (the zygote and the instances it forked)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            children.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(int(entry.name))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    """utime + stime, in clock ticks, of each process still alive."""
    ticks = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = _stat_fields(pid)
            ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def core_ticks(cpu: int) -> tuple[int, int]:
    """(busy, total) clock ticks of one CPU, from /proc/stat; steal counts as neither."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            user, nice, system, idle, iowait, irq, softirq, _steal = map(int, line.split()[1:9])
            busy = user + nice + system + irq + softirq
            return busy, busy + idle + iowait
    raise RuntimeError(f"cpu{cpu} not in /proc/stat")


def _cpu_mount() -> Path | None:
    """Where the cgroup hierarchy with the cpu controller is mounted (v1 `cpu`, else v2)."""
    unified = None
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, mount_point, fstype, options, *_ = line.split()
        if fstype == "cgroup" and "cpu" in options.split(","):
            return Path(mount_point)
        if fstype == "cgroup2":
            unified = Path(mount_point)
    return unified


def _has_cpu_quota(cgroup: Path) -> bool:
    """Whether a function's CPU limit is set: a pre-isolated shell has none until it is handed
    a function (v2 `cpu.max` "max ...", v1 `cpu.cfs_quota_us` -1)."""
    with contextlib.suppress(OSError):
        if (cgroup / "cpu.max").exists():
            return not (cgroup / "cpu.max").read_text().startswith("max")
        return (cgroup / "cpu.cfs_quota_us").read_text().strip() != "-1"
    return False


def instance_cgroups(server_pid: int, pids: list[int]) -> set[Path]:
    """The cpu cgroup directories of ``pids`` other than the server's own that have a CPU
    limit: one per instance (idle pre-isolated shells left out)."""
    mount, found = _cpu_mount(), set[Path]()

    def cpu_path(pid: int) -> str:
        lines = [line.split(":", 2) for line in Path(f"/proc/{pid}/cgroup").read_text().split()]
        v1 = [path for _, controllers, path in lines if "cpu" in controllers.split(",")]
        return (v1 or [path for hierarchy, _, path in lines if hierarchy == "0"])[0]

    if mount is None:
        return found
    own = cpu_path(server_pid)
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            if (path := cpu_path(pid)) != own and _has_cpu_quota(mount / path.lstrip("/")):
                found.add(mount / path.lstrip("/"))
    return found


def quota_throttled(cgroups: set[Path]) -> int:
    total = 0
    for cgroup in cgroups:
        with contextlib.suppress(OSError):
            stat = (cgroup / "cpu.stat").read_text()
            total += int(re.findall(r"^nr_throttled (\d+)", stat, re.M)[0])
    return total


def wrk_command(
    wrk: str, script: Path, url: str, connections: int, seconds: int, pin: bool
) -> list[str]:
    """One wrk run (one thread: it has one core)."""
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    return pinned(LOAD_CPU, [*command, "-s", str(script), url], pin)


def wrk_summary(done: subprocess.CompletedProcess[str]) -> Any:
    """The Lua script's JSON summary, from a finished wrk's output."""
    for line in done.stdout.splitlines():
        if line.startswith("GUREUM "):
            return json.loads(line.removeprefix("GUREUM "))
    raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")


def wrk_run(wrk: str, script: Path, url: str, connections: int, seconds: int, pin: bool) -> Any:
    """One wrk run; the Lua script's JSON summary."""
    command = wrk_command(wrk, script, url, connections, seconds, pin)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    return wrk_summary(done)


@dataclass(frozen=True, slots=True)
class Target:
    """What a measured run drives: the server, one function, and the wrk script."""

    wrk: str
    script: Path
    server: Server
    memory_mb: int
    pin: bool

    @property
    def url(self) -> str:
        return f"{self.server.url}/2015-03-31/functions/bench-{self.memory_mb}/invocations"


def measured(t: Target, connections: int, seconds: int, layout: str = ONE_CORE) -> Run:
    server_pid = t.server.process.pid
    platform = [server_pid, *descendants(server_pid)]
    cgroups = instance_cgroups(server_pid, platform)
    ticks, core, throttled = cpu_ticks(platform), core_ticks(SERVER_CPU), quota_throttled(cgroups)
    w = wrk_run(t.wrk, t.script, t.url, connections, seconds, t.pin)
    ticks_after, core_after = cpu_ticks(platform), core_ticks(SERVER_CPU)
    spent = {pid: ticks_after[pid] - ticks[pid] for pid in ticks_after if pid in ticks}
    busy, total = core_after[0] - core[0], core_after[1] - core[1]
    responses = w["ok"] + w["throttled"] + w["other"]
    per_response = 1e6 / os.sysconf("SC_CLK_TCK") / max(responses, 1)
    server_ticks = spent.pop(server_pid, 0)
    on_core = server_ticks + (sum(spent.values()) if layout == ONE_CORE else 0)
    run = Run(
        memory_mb=t.memory_mb, connections=connections, layout=layout, ok=w["ok"],
        throttled=w["throttled"], other=w["other"], wrong_body=w["wrong_body"],
        socket_errors=w["socket_errors"],
        seconds=w["duration_us"] / 1e6, p50_ms=w["p50_us"] / 1e3, p90_ms=w["p90_us"] / 1e3,
        p99_ms=w["p99_us"] / 1e3, max_ms=w["max_us"] / 1e3,
        server_us=server_ticks * per_response, instances_us=sum(spent.values()) * per_response,
        # Only meaningful pinned.
        foreign=max(0, busy - on_core) / max(total, 1),
        instances=len(cgroups), quota_throttled=quota_throttled(cgroups) - throttled,
    )  # fmt: skip
    print(
        f"  {t.memory_mb} MB c={connections} ({layout}): {run.rate:,.0f} inv/s, "
        f"p50 {run.p50_ms:.3f} ms, p99 {run.p99_ms:.3f} ms, non-2xx {run.throttled + run.other}, "
        f"CPU/response server {run.server_us:.0f} µs + instances {run.instances_us:.0f} µs, "
        f"others on CPU {SERVER_CPU} {run.foreign:.0%}",
        flush=True,
    )
    return run


def place_instances(server_pid: int, cpu: int) -> None:
    """Pin the server's descendants (zygotes, instances; later forks inherit it) to ``cpu``."""
    for pid in descendants(server_pid):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(pid, {cpu})


def measure(plan: Plan) -> Outcome:
    """Every HTTP figure, from one server on a temporary data dir."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return Outcome(skipped="wrk is not installed (`sudo apt-get install -y wrk`)")
    pin = can_pin()
    outcome = Outcome(wrk=wrk_version(wrk), pinned=pin)
    with (
        tempfile.TemporaryDirectory(prefix="gureum-bench-http-") as tmp,
        open_server(Path(tmp) / "data", Path(tmp) / "serve.log", pin) as server,
    ):
        script = Path(tmp) / "invoke.lua"
        script.write_text(wrk_script())
        outcome.isolation = server.isolation
        client = lambda_client(server.url)
        for mb in MEMORY_SIZES:
            deploy(client, f"bench-{mb}", mb)
            target = Target(wrk, script, server, mb, pin)
            outcome.runs.append(measured(target, 1, plan.latency_s))
            wrk_run(wrk, script, target.url, CONCURRENCY, plan.warmup_s, pin)  # scales out
            outcome.runs.append(measured(target, CONCURRENCY, plan.load_s))
            if pin:
                place_instances(server.process.pid, LOAD_CPU)
                outcome.runs.append(measured(target, CONCURRENCY, plan.load_s, SPLIT))
                place_instances(server.process.pid, SERVER_CPU)
            client.delete_function(FunctionName=f"bench-{mb}")  # gives its memory budget back
    return outcome


# Where the server's time goes, by the innermost frame of each sample that names a layer.
LAYERS = (
    ("telemetry (record, and its writer thread)", r"gureum/store/telemetry"),
    ("instance channel: frame out, reply in, output", r"engine/instance|runtime/protocol|streams"),
    ("engine: admission, fleet, metering, report lines", r"gureum/(engine|platform|store)|uuid"),
    ("asyncio tasks (wait_for, shield, task creation)", r"asyncio/(tasks|timeouts|base_fut)"),
    ("lambda_api.invoke", r"gureum/gateway/lambda_api"),
    ("restjson match, parse, check, serialise", r"gureum/gateway/(restjson|constraints)"),
    ("gateway dispatch (body, query and header copies)", r"gureum/gateway/app"),
    ("Starlette Request, URL, Headers, Response", r"starlette/(requests|datastr|responses|_utils)"),
    ("Starlette middleware and routing", r"starlette/"),
    ("uvicorn httptools protocol, proxy-headers middleware", r"uvicorn/"),
    ("event loop itself (uvloop, in C)", r"Runner\.run"),
)


def layer_shares(collapsed: str) -> collections.Counter[str]:
    """Samples per layer from py-spy's collapsed stacks, idle thread-pool workers left out."""
    shares: collections.Counter[str] = collections.Counter()
    for line in collapsed.splitlines():
        stack, count = line.rsplit(" ", 1)
        frames = stack.split(";")
        if frames[-1].startswith("_worker (concurrent/futures/thread.py"):
            continue  # the telemetry writer's thread, waiting for work
        layer = next(
            (name for f in reversed(frames) for name, rx in LAYERS if re.search(rx, f)), "other"
        )
        shares[layer] += int(count)
    return shares


def profile(plan: Plan, out: Path) -> None:
    """py-spy samples the server during a 128 MB run at c=32, its instances moved to CPU 1.

    py-spy samples wall-clock stacks: on a shared core a preempted server would be charged to
    whatever it was doing when an instance woke up, so the instances go next to wrk first.
    """
    spy, wrk = shutil.which("py-spy"), ensure_wrk()
    if spy is None or wrk is None:
        raise SystemExit("py-spy and wrk are needed: pip install py-spy; apt-get install -y wrk")
    out.mkdir(parents=True, exist_ok=True)
    pin = can_pin()
    with (
        tempfile.TemporaryDirectory(prefix="gureum-bench-http-") as tmp,
        open_server(Path(tmp) / "data", Path(tmp) / "serve.log", pin) as server,
    ):
        script = Path(tmp) / "invoke.lua"
        script.write_text(wrk_script())
        deploy(lambda_client(server.url), "bench-128", 128)
        target = Target(wrk, script, server, 128, pin)
        wrk_run(wrk, script, target.url, CONCURRENCY, plan.warmup_s, pin)
        if pin:
            place_instances(server.process.pid, LOAD_CPU)
        record = [spy, "record", "--pid", str(server.process.pid), "--rate", "250", "--format"]
        record += ["raw", "--duration", str(plan.load_s - 1), "-o", str(out / "profile.txt")]
        with subprocess.Popen(pinned(LOAD_CPU, record, pin), stdout=subprocess.DEVNULL) as spying:
            run = measured(target, CONCURRENCY, plan.load_s, SPLIT if pin else ONE_CORE)
            if spying.wait(timeout=60) != 0:
                raise SystemExit("py-spy failed (it needs ptrace rights: run as root)")
    shares = layer_shares((out / "profile.txt").read_text())
    total = sum(shares.values())
    print(f"server CPU per invocation {run.server_us:.0f} µs, by layer ({total} samples):")
    for layer, samples in shares.most_common():
        print(f"  {samples / total:6.1%}  {samples / total * run.server_us:4.0f} µs  {layer}")
    print(f"collapsed stacks: {out / 'profile.txt'} (flamegraph.pl or speedscope draw them)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python3 -m bench.http", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 s runs instead of 10 s")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy the server instead")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.profile:
        profile(plan, args.profile)
        return
    if ensure_wrk() is None:
        raise SystemExit("wrk is not installed: sudo apt-get install -y wrk")
    measure(plan)


if __name__ == "__main__":
    main()
