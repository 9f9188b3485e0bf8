"""gureum's benchmark, and the peers a user would otherwise pick, side by side in one run.

    python3 -m bench.run [--quick] [--isolation full|process] [--skip-peers] [--out BENCHMARKS.md]

Cold start, zygote start, warm invoke, throughput and idle memory through the Python API, in one
process, and how many warm instances fit (bench/density.py); then the HTTP path through a real
`gureum serve` driven by wrk (bench/http.py), its cold paths and bursts (bench/coldhttp.py),
the peers installed and driven the same way (bench/peers.py), asynchronous events and HTTP
routes (bench/events.py), and S3 and SQS (bench/services.py). One run writes one Markdown file
(issue 4's sections: bench/compare.py).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import coldhttp, compare, density, events, http, peers, services
from gureum import InvocationResult, Platform, PlatformSettings, open_platform
from gureum.sandbox.cgroups import CFS_PERIOD_US, MB_PER_VCPU
from gureum.sandbox.runtimes import host_runtime
from gureum.types import IsolationLevel

RUNTIME = host_runtime()
PAYLOAD = json.dumps({"n": 1}).encode()
HANDLER = "def handler(event, context):\n    return event\n"
COLD_FLOOR_MS, WARM_FLOOR_MS = 50.0, 0.3
WARMUPS, INTERPRETER_RUNS, CONCURRENCY = 50, 20, (8, 32)
# Samples: cold starts, zygote starts, warm invokes per memory size, invokes per concurrency.
Plan = dict[str, int]
FULL: Plan = {"cold": 100, "zygote": 5, "warm": 2000, "throughput": 2000}
QUICK: Plan = {"cold": 20, "zygote": 3, "warm": 300, "throughput": 300}


def pct(values: Sequence[float], q: int) -> float:
    """The q-th percentile, interpolated between closest ranks (numpy's default)."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def code_zip(tag: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", f"{HANDLER}# {tag}\n")  # distinct code: a real first deploy
    return buffer.getvalue()


async def deploy(p: Platform, name: str, mb: int = 128) -> None:
    code, handler = code_zip(name), "app.handler"
    await p.functions.create(name=name, runtime=RUNTIME, handler=handler, code=code, memory_mb=mb)


async def timed_invoke(p: Platform, name: str) -> tuple[float, InvocationResult]:
    started = time.perf_counter()
    result = await p.invoke(name, PAYLOAD)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if not result.ok or json.loads(result.payload) != {"n": 1}:
        raise RuntimeError(f"{name} failed: {result.payload!r}")
    return elapsed_ms, result


def memory_mib(pid: int) -> tuple[float, float]:
    """(PSS, RSS) of one process, in MiB, from /proc/<pid>/smaps_rollup."""
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    kb = dict(re.findall(r"^(Pss|Rss):\s+(\d+)", rollup, re.M))
    return int(kb["Pss"]) / 1024, int(kb["Rss"]) / 1024


def throttled(p: Platform, name: str) -> int:
    """CFS periods in which the function's instances used up their CPU quota (cgroup cpu.stat)."""
    cgroups = [i.sandbox.cgroup for i in p.engine.instances(name) if i.sandbox.cgroup]
    stats = [d / "cpu.stat" for c in cgroups for d in c.directories if (d / "cpu.stat").exists()]
    return sum(int(re.findall(r"^nr_throttled (\d+)", f.read_text(), re.M)[0]) for f in stats)


@dataclass
class Figures:
    """Results in the order they were measured, each a table row and a value for the ratios."""

    rows: list[str] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)

    def add(self, key: str, label: str, value: float, unit: str = "ms") -> None:
        spec = ",.0f" if value >= 100 or value == int(value) else ".1f" if value >= 10 else ".3f"
        self.rows.append(f"| {len(self.rows) + 1} | {label} | {value:{spec}} {unit} |")
        self.values[key] = value
        print(f"  {label}: {value:{spec}} {unit}", flush=True)


async def cold_phase(p: Platform, plan: Plan, fig: Figures) -> list[str]:
    await deploy(p, "zygote-warmup")
    await timed_invoke(p, "zygote-warmup")  # starts the zygote and builds its template root
    names = [f"cold-{i}" for i in range(plan["cold"])]
    samples = []
    for name in names:
        await deploy(p, name)
        ms, result = await timed_invoke(p, name)
        assert result.cold_start and result.init_duration_ms is not None
        runtime_init = p.engine.instances(name)[0].init_ms or 0.0
        samples.append((ms, result.init_duration_ms, result.instance_wait_ms, runtime_init))
    client, engine, wait, imports = zip(*samples, strict=True)
    fig.add("cold_p50", f"Cold start, client latency p50 (n={plan['cold']})", pct(client, 50))
    fig.add("cold_p99", "Cold start, client latency p99", pct(client, 99))
    fig.add("cold_mean", "Cold start, client latency mean", statistics.fmean(client))
    fig.add("cold_init", "Cold start, engine `init_duration_ms` p50", pct(engine, 50))
    fig.add("cold_wait", "Cold start, engine `instance_wait_ms` p50", pct(wait, 50))
    fig.add("cold_import", "Cold start, runtime's own init (handler import) p50", pct(imports, 50))
    return names


def idle_memory(p: Platform, names: list[str], fig: Figures) -> None:
    pids = [i.sandbox.pid for name in names for i in p.engine.instances(name)]
    pss, rss = zip(*map(memory_mib, pids), strict=True)
    fig.add("pss_p50", f"Idle instance PSS, median (n={len(pss)})", statistics.median(pss), "MiB")
    fig.add("pss_sum", "Idle instances PSS, total", sum(pss), "MiB")
    fig.add("rss_p50", "Idle instance RSS, median", statistics.median(rss), "MiB")
    fig.add("rss_sum", "Idle instances RSS, total (counts shared pages in each)", sum(rss), "MiB")
    zygote = p.sandboxes.zygotes[RUNTIME].process
    assert zygote is not None
    z_pss, z_rss = memory_mib(zygote.pid)
    fig.add("zygote_pss", "Zygote PSS (RSS)", z_pss, f"MiB ({z_rss:.1f} MiB)")


async def warm_phase(p: Platform, plan: Plan, fig: Figures) -> None:
    # 128 MB is Lambda's default; 1769 MB buys a full vCPU, so no CPU quota is in reach.
    for mb in (128, 1769):
        await deploy(p, f"warm-{mb}", mb)
        for _ in range(WARMUPS):
            await timed_invoke(p, f"warm-{mb}")
        timed = [await timed_invoke(p, f"warm-{mb}") for _ in range(plan["warm"])]
        client, round_trip = [ms for ms, _ in timed], [r.duration_ms for _, r in timed]
        outside = [c - r for c, r in zip(client, round_trip, strict=True)]
        w = f"Warm invoke {mb} MB"
        fig.add(f"warm{mb}_p50", f"{w}, client latency p50 (n={plan['warm']})", pct(client, 50))
        fig.add(f"warm{mb}_p99", f"{w}, client latency p99", pct(client, 99))
        fig.add(f"warm{mb}_rt", f"{w}, engine `duration_ms` p50", pct(round_trip, 50))
        fig.add(f"warm{mb}_out", f"{w}, client latency − `duration_ms` p50", pct(outside, 50))
        fig.add(f"warm{mb}_thr", f"{w}, CPU-quota throttled", throttled(p, f"warm-{mb}"), "periods")
        await p.functions.delete(f"warm-{mb}")  # gives its memory back to the node's budget


async def worker(p: Platform, count: int, latencies: list[float]) -> None:
    for _ in range(count):
        latencies.append((await timed_invoke(p, "throughput"))[0])


async def throughput_phase(p: Platform, plan: Plan, fig: Figures) -> None:
    await deploy(p, "throughput")
    for c in CONCURRENCY:
        # Scale out first: c invocations at once find no idle instance and start one each.
        await asyncio.gather(*(timed_invoke(p, "throughput") for _ in range(c)))
        latencies: list[float] = []
        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(p, plan["throughput"] // c, latencies) for _ in range(c)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        n = f"n={len(latencies)}, {len(p.engine.instances('throughput'))} instances"
        rate = len(latencies) / elapsed
        fig.add(f"tput_{c}", f"Throughput at concurrency {c} ({n})", rate, "inv/s")
        fig.add(f"tput_{c}_p50", f"Latency p50 at concurrency {c}", pct(latencies, 50))
        per_invoke = cpu / len(latencies) * 1e6
        fig.add(f"tput_{c}_cpu", f"Engine CPU per invoke at concurrency {c}", per_invoke, "µs")


async def zygote_phase(plan: Plan, isolation: IsolationLevel | None, fig: Figures) -> None:
    client = []
    for i in range(plan["zygote"]):
        with tempfile.TemporaryDirectory(prefix="gureum-bench-") as tmp:
            async with await open_platform(tmp, PlatformSettings(isolation=isolation)) as p:
                await deploy(p, f"fresh-{i}")
                client.append((await timed_invoke(p, f"fresh-{i}"))[0])
    label = f"Zygote start, fresh platform, p50 (n={plan['zygote']})"
    fig.add("zygote_p50", label, pct(client, 50))


def interpreter_phase(fig: Figures) -> None:
    samples = []
    for _ in range(INTERPRETER_RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        samples.append((time.perf_counter() - started) * 1000)
    fig.add("interp_p50", f"Fresh `python3 -c pass` p50 (n={INTERPRETER_RUNS})", pct(samples, 50))


async def measure(plan: Plan, isolation: IsolationLevel | None, fig: Figures) -> str:
    with tempfile.TemporaryDirectory(prefix="gureum-bench-") as tmp:
        async with await open_platform(tmp, PlatformSettings(isolation=isolation)) as p:
            names = await cold_phase(p, plan, fig)
            idle_memory(p, names, fig)
            await warm_phase(p, plan, fig)
            await throughput_phase(p, plan, fig)
    await zygote_phase(plan, isolation, fig)
    return p.isolation


def http_phase(quick: bool) -> http.Outcome:
    print("HTTP path (gureum serve + wrk):", flush=True)
    if http.ensure_wrk() is None:
        reason = "wrk is not installed (`sudo apt-get install -y wrk`; as root bench.run does it)"
        print(f"  skipped: {reason}", flush=True)
        return http.Outcome(skipped=reason)
    return http.measure(http.QUICK if quick else http.FULL)


def peers_phase(quick: bool, skip: bool) -> list[peers.Result]:
    print("Peers (installed into a cache, driven as gureum is):", flush=True)
    if skip:
        return [peers.Result(p.name, p.how, skipped="--skip-peers") for p in peers.PEERS]
    return peers.measure(peers.QUICK if quick else peers.FULL)


def pinning(web: http.Outcome) -> str:
    if not web.pinned:
        return "not pinned (`taskset` or a second CPU missing)"
    return (
        f"`gureum serve` under `taskset -c {http.SERVER_CPU}`, wrk under `taskset -c "
        f"{http.LOAD_CPU}`; the zygote and instances first inherit CPU {http.SERVER_CPU} "
        f"(*{http.ONE_CORE}*), then are moved to CPU {http.LOAD_CPU} for a second "
        f"c={http.CONCURRENCY} run (*{http.SPLIT}*)"
    )


def http_section(web: http.Outcome, warm_p50_ms: dict[int, float]) -> str:
    """The HTTP section; ``warm_p50_ms``: this run's in-process warm invoke p50 per memory size."""
    if web.skipped:
        return f"## HTTP path\n\nSkipped: {web.skipped}.\n"
    rows, notes = [], []
    for r in web.runs:
        c = f"{r.memory_mb} MB, c={r.connections}, {r.layout}"
        rows += [
            f"| {c} | Invocations/s (2xx) | {r.rate:,.0f} |",
            f"| {c} | Latency p50 / p90 / p99 / max | {r.p50_ms:.3f} / {r.p90_ms:.3f} / "
            f"{r.p99_ms:.3f} / {r.max_ms:.1f} ms |",
            f"| {c} | 2xx; 429; other non-2xx; socket errors; wrong bodies | {r.ok:,}; "
            f"{r.throttled:,}; {r.other}; {r.socket_errors}; {r.wrong_body} |",
            f"| {c} | CPU per response: server process + instances "
            f"(→ CPU {http.SERVER_CPU} ceiling) | "
            f"{r.server_us:.0f} + {r.instances_us:.0f} µs (→ {r.ceiling:,.0f}/s) |",
            f"| {c} | Instances; CPU-quota throttled periods; others' share of CPU "
            f"{http.SERVER_CPU} | {r.instances}; {r.quota_throttled:,}; {r.foreign:.0%} |",
        ]
        if r.connections == 1:
            notes.append(
                f"- HTTP c=1 p50 − in-process warm invoke p50 (phase 3), {r.memory_mb} MB: "
                f"{r.p50_ms - warm_p50_ms[r.memory_mb]:.3f} ms"
            )
        if r.quota_throttled:
            notes.append(
                f"- {c}: {r.quota_throttled:,} CFS periods in which the instance used up its CPU "
                f"quota ({r.memory_mb} MB buys {r.memory_mb / MB_PER_VCPU:.1%} of a vCPU): the "
                f"latency tail waits for the next {CFS_PERIOD_US // 1000} ms period"
            )
        if r.throttled:
            notes.append(
                f"- {c}: {r.throttled:,} × 429 — {r.instances} instances of {r.memory_mb} MB fit "
                "the node's memory budget (75 % of RAM); further concurrent requests are refused"
            )
    return HTTP_SECTION.format(
        isolation=web.isolation, pinning=pinning(web), wrk=web.wrk, c=http.CONCURRENCY,
        server_cpu=http.SERVER_CPU, rows="\n".join(rows), notes="\n".join(notes),
    )  # fmt: skip


def http_floor(web: http.Outcome) -> str:
    """Issue 3's floor, read as the server process alone on one core (its instances run beside
    wrk, as a function's sandboxes are not the front end's CPU on any serverless platform);
    the whole platform on one core is shown next to it."""
    label = f"HTTP throughput at c={http.CONCURRENCY} ≥ {http.THROUGHPUT_FLOOR:,.0f} inv/s"
    if web.skipped:
        return f"{label}: not measured ({web.skipped})"
    loaded = [r for r in web.runs if r.connections == http.CONCURRENCY and r.memory_mb == 128]
    split = next((r for r in loaded if r.layout == http.SPLIT), None)
    one_core = next(r for r in loaded if r.layout == http.ONE_CORE)
    if split is None:
        return f"{label}: not measured (needs two CPUs and taskset)"
    met = split.rate >= http.THROUGHPUT_FLOOR and split.throttled + split.other == 0
    return (
        f"{label} (128 MB, {http.SPLIT}): **{'met' if met else 'NOT met'}**\n"
        f"  ({split.rate:,.0f} inv/s, server process {split.server_us:.0f} µs CPU per invocation; "
        f"with the whole platform on one core: {one_core.rate:,.0f} inv/s, ceiling "
        f"{one_core.ceiling:,.0f}/s)"
    )


HTTP_SECTION = """## HTTP path (`gureum serve` + wrk; `python3 -m bench.http` runs it alone)

A real `gureum serve --port 0` (isolation `{isolation}`) on a temporary data dir, and
{wrk} (1 thread, keep-alive) sending `POST /2015-03-31/functions/NAME/invocations` with
`{{"n": 1}}`; a Lua script checks every status and body. Pinning:
{pinning}.
Per memory size: CreateFunction and 20 Invokes with boto3, then c=1 (latency), a discarded c={c}
run that scales out, then c={c} (throughput). Latency is wrk's (request sent to response read).
CPU per response: utime+stime (`/proc/<pid>/stat`) of the server and of its descendants over the
run; the ceiling is 1 s over their sum. *Others' share*: CPU {server_cpu} time used by processes
that are not gureum's (other work on this shared machine).

| Run | Figure | Value |
|---|---|---:|
{rows}

{notes}
"""


def machine() -> str:
    model = Path("/proc/cpuinfo").read_text().split("model name", 1)[-1].split("\n", 1)[0]
    mem_gib = int(Path("/proc/meminfo").read_text().split()[1]) / 1024**2
    cpu = f"nproc {os.cpu_count()}, CPU {model.split(':')[-1].strip()}, memory {mem_gib:.1f} GiB"
    return f"{cpu}, kernel {os.uname().release}, Python {sys.version.split()[0]} ({sys.executable})"


REPORT = """# gureum benchmarks

- Command (regenerates this file): `{command}` — {date}
- Machine: {machine}
- Isolation level `{level}`, runtime `{runtime}`, payload `{payload}`; load average before / after:
  {load} (shared noisy cores: medians move ±20 % between runs, p99s more)
- HTTP phases (7, 8, 10): {http_setup}

{goals}
{side_by_side}
## Method

One process and run, Python API, temporary data dir. Latency: `time.perf_counter()` around
`await platform.invoke(...)`. Handler: `return event` (≪ 1 µs).
Phase order: 6, 1+5, 3, 4, 2, 9, 7, 10, 8, 11, 12.

1. **Cold start**: {cold} functions, each deployed (which unpacks and precompiles its zip, ~80 ms
   in a child process) and then invoked once, after a throw-away function started the zygote.
   `instance_wait_ms` is admission to READY; `init_duration_ms` is the runtime's own init (the
   handler import), timed in the instance. Measured here: a cold start that follows ~80 ms of
   zygote idleness costs ~20 ms, one straight after another cold start ~7 ms, the same code
   either way (the instance's set-up inside the child is what slows; the cause, host scheduling
   or memory reclaim on this VM, is not yet pinned down).
2. **Zygote start**: {zygote} fresh platforms; the first invoke also starts the zygote interpreter.
3. **Warm invoke**: per size, {warmup} warm-ups then {warm} invokes in turn. With a ~0 handler,
   *client latency* is the platform overhead (the floor is checked on it at 128 MB).
   `duration_ms` is the engine's timing of the instance round trip (frame out, decode, handler,
   encode, frame back); *client latency − `duration_ms`* is the engine's bookkeeping around it.
   At `full`, CPU follows Lambda after init: 128 MB gets 1.45 ms per 20 ms period (`nr_throttled`).
4. **Throughput** (128 MB): {throughput} invokes over c coroutines (`asyncio.gather`), after c
   simultaneous invokes scaled out to c instances. Engine CPU: `time.process_time()`, this process.
5. **Idle memory**: `Pss:`/`Rss:` of `/proc/<pid>/smaps_rollup` of each phase-1 instance, idle.
   PSS shares the zygote's copy-on-write pages out; RSS counts them in each instance.
6. **Baseline**: {interpreter} × `python3 -c pass` (`subprocess.run`, the Python named above).
7. **HTTP path**: a separate `gureum serve` process and wrk; its own section below.
8. **Cold paths through HTTP, bursts**: another `gureum serve`; its own section below.
9. **Warm instances that fit**: Python API, provisioned concurrency; with 8, below.
10. **Peers**: installed into a cache, started and loaded as gureum is; the side-by-side above.
11. **Events and HTTP routes**: another `gureum serve`; its own section below.
12. **Storage and queues**: another `gureum serve`, S3 and SQS from boto3 and http.client; below.

Phases 1–6 and 9 run unpinned; 7, 8, 10, 11 and 12 pin the server to one core and the client to
the other.

## Figures

| # | Figure | Value |
|---|---|---:|
{rows}

## Same-run ratios

- Cold start p50 / fresh interpreter p50: **{r_cold:.2f}×** ({cold_p50:.2f} vs {interp_p50:.2f} ms)
- Zygote start p50 / fresh interpreter p50: {r_zygote:.2f}×; minus cold start p50: {d_zygote:.1f} ms
- Cold / warm p50: {r_warm:.0f}×; throughput c=32 / c=8: {r_tput:.2f}×; idle RSS / PSS: {r_mem:.1f}×

{http_section}
{gureum_http}
{events_section}
{services_section}
## Published anchors (from `performance-anchors.md`: other machines, NOT measured here)

| System | Published figure | Source |
|---|---|---|
| Lambda, Python zip, Init Duration (INIT only) | median 79, p90 ≈102 ms | lambda-perf 2026-08 |
| Lambda, Rust zip, Init Duration (≈ Lambda's floor) | median 15 ms | same |
| Lambda, trivial Python handler, billed Duration | 1.2–3.9 ms | same |
| Lambda, Python hello-world, Max Memory Used | 30–38 MB | same |
| SOCK lean container (Python), mean cold start | 130 ms | SOCK, ATC'18 §5.1 |
| Firecracker snapshot restore | <8 ms target, 5 ms p90 | firecracker snapshot docs |
| Firecracker VMM overhead per microVM | ≤5 MiB | firecracker SPECIFICATION.md |
| OpenFaaS of-watchdog warm round trip | <1 ms | openfaas.com blog (vendor) |

## Floor check (information, not a test)

- Cold start p50 ≤ {cold_floor:.0f} ms: **{cold_ok}** ({cold_p50:.2f} ms)
- Warm invoke overhead p50 ≤ {warm_floor} ms (128 MB, client latency, handler ≈ 0): **{warm_ok}**
  ({warm128_p50:.3f} ms; of which engine bookkeeping outside the round trip: {warm128_out:.3f} ms)
- {http_floor}

{versions}"""


def report(
    command: str,
    level: str,
    plan: Plan,
    fig: Figures,
    load: str,
    issue4: compare.Figures,
    events_section: str,
    services_section: str,
) -> str:
    v, web = fig.values, issue4.web
    warm = {mb: v[f"warm{mb}_p50"] for mb in http.MEMORY_SIZES}
    return REPORT.format(
        command=command, date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), machine=machine(),
        http_setup=web.skipped or f"{web.wrk}; {pinning(web)}",
        http_section=http_section(web, warm), http_floor=http_floor(web),
        goals=compare.goals(issue4), side_by_side=compare.side_by_side(issue4),
        gureum_http=compare.gureum_http(issue4), versions=compare.versions(issue4),
        events_section=events_section, services_section=services_section,
        level=level, runtime=RUNTIME, payload=PAYLOAD.decode(), load=load, **plan,
        warmup=WARMUPS, interpreter=INTERPRETER_RUNS, rows="\n".join(fig.rows),
        r_cold=v["cold_p50"] / v["interp_p50"], r_zygote=v["zygote_p50"] / v["interp_p50"],
        d_zygote=v["zygote_p50"] - v["cold_p50"], r_warm=v["cold_p50"] / v["warm128_p50"],
        r_tput=v["tput_32"] / v["tput_8"], r_mem=v["rss_p50"] / v["pss_p50"],
        cold_floor=COLD_FLOOR_MS, warm_floor=WARM_FLOOR_MS,
        cold_ok="met" if v["cold_p50"] <= COLD_FLOOR_MS else "NOT met",
        warm_ok="met" if v["warm128_p50"] <= WARM_FLOOR_MS else "NOT met", **v,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(prog="python3 -m bench.run", description="gureum benchmark")
    parser.add_argument("--quick", action="store_true", help="fewer samples, for a smoke run")
    parser.add_argument("--isolation", choices=["full", "process"], help="default: the strongest")
    parser.add_argument("--skip-peers", action="store_true", help="gureum only (development)")
    parser.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()
    plan, before, fig = QUICK if args.quick else FULL, os.getloadavg(), Figures()
    interpreter_phase(fig)
    level = asyncio.run(measure(plan, args.isolation, fig))
    fits = asyncio.run(density.measure(density.TARGET, args.isolation))
    web = http_phase(args.quick)
    rivals = peers_phase(args.quick, args.skip_peers)
    cold = coldhttp.measure(coldhttp.QUICK if args.quick else coldhttp.FULL)
    issue4 = compare.Figures(cold, fits, web, rivals, fig.values["pss_p50"])
    print("Events and HTTP routes (gureum serve + wrk):", flush=True)
    issue5 = events.measure(events.QUICK if args.quick else events.FULL)
    print("Storage and queues (gureum serve + S3 and SQS clients):", flush=True)
    issue6 = services.measure(services.QUICK if args.quick else services.FULL)
    command = " ".join(["python3 -m bench.run", *sys.argv[1:]])
    load = " / ".join(" ".join(f"{x:.2f}" for x in a) for a in (before, os.getloadavg()))
    sections = events.section(issue5), services.section(issue6)
    args.out.write_text(report(command, level, plan, fig, load, issue4, *sections))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
