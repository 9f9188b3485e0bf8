"""BENCHMARKS.md's issue 4 sections: the goals, gureum beside its peers, gureum's cold paths
through HTTP and its density, and the versions measured. Rendering only: the figures come from
bench/http.py, coldhttp.py, density.py and peers.py."""

from __future__ import annotations

import importlib.metadata
import math
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import coldhttp, density, http, peers


def pct(values: Sequence[float], q: int) -> float:
    """The q-th percentile (numpy's default interpolation); NaN for no values."""
    if len(values) < 2:
        return values[0] if values else math.nan
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


@dataclass(frozen=True, slots=True)
class Figures:
    """Everything the issue 4 sections read, from one run."""

    cold: coldhttp.Outcome
    fits: list[density.Fit]
    web: http.Outcome
    rivals: list[peers.Result]
    idle_pss_mib: float  # median idle instance PSS, phase 5 (in-process)

    def gureum_load(self, connections: int, layout: str = http.ONE_CORE) -> peers.Load | None:
        """The HTTP phase's 128 MB run at ``connections`` in ``layout``, as a peer's."""
        for r in self.web.runs:
            if (r.memory_mb, r.connections, r.layout) == (128, connections, layout):
                failed = r.throttled + r.other + r.socket_errors + r.wrong_body
                cpu = r.server_us + r.instances_us
                return peers.Load(connections, r.rate, r.p50_ms, r.p99_ms, failed, cpu, r.foreign)
        return None

    def rival(self, key: str) -> peers.Result | None:
        wanted = next(p.name for p in peers.PEERS if p.key == key)
        return next((r for r in self.rivals if r.name == wanted), None)


def _verdict(met: bool) -> str:
    return "met" if met else "**NOT met**"


def _ratio_goal(f: Figures, key: str, factor: float) -> tuple[str, str]:
    ours, rival = f.gureum_load(http.CONCURRENCY), f.rival(key)
    theirs = rival.load(http.CONCURRENCY) if rival else None
    if ours is None or theirs is None or theirs.rate == 0:
        why = (rival.skipped if rival else "") or f.web.skipped or "no c=32 run"
        return f"not measured: {why}", "not measured"

    def shown(rate: float) -> str:
        return f"{rate / theirs.rate:.0%}" if factor < 1 else f"{rate / theirs.rate:.2f}×"

    text = f"{shown(ours.rate)} ({ours.rate:,.0f} vs {theirs.rate:,.0f} inv/s)"
    if split := f.gureum_load(http.CONCURRENCY, http.SPLIT):
        text += f"; {shown(split.rate)} with gureum's instances on CPU {http.LOAD_CPU}"
    return text, _verdict(ours.rate / theirs.rate >= factor)


def goals(f: Figures) -> str:
    c, rows = f.cold, []
    at_full = c.isolation == "full"
    for label, q, limit in (("p50 ≤ 3 ms", 50, 3.0), ("p99 ≤ 10 ms", 99, 10.0)):
        value = pct(c.cold_ms, q)
        if math.isnan(value):
            rows.append((f"Cold start {label}, HTTP, `full`", f"not measured: {c.skipped}", "–"))
            continue
        verdict = _verdict(value <= limit) if at_full else f"not at `full` ({c.isolation})"
        rows.append((f"Cold start {label}, HTTP, `full`", ms(value), verdict))
    if c.scale_snap.ms:
        value = pct(c.scale_snap.ms, 50)
        shown = f"{ms(value)} p50 end to end, {len(c.scale_snap.ms)} new instances at once"
        if c.scale_snap.reported_ms:
            shown += f" (REPORT Restore Duration p50 {ms(pct(c.scale_snap.reported_ms, 50))})"
        rows.append(("Snapshot scale-out ≤ 5 ms per new instance", shown, _verdict(value <= 5)))
    else:
        why = c.snapshot or c.skipped or "no new instance started"
        rows.append(("Snapshot scale-out ≤ 5 ms per new instance", why, "**NOT met**"))
    one_core = [b for b in c.bursts if b.layout == http.ONE_CORE]
    if one_core:
        worst = max(one_core, key=lambda b: b.seconds)
        met = worst.seconds <= 0.5 and all(b.ok == coldhttp.BURST for b in one_core)
        shown = f"{worst.seconds * 1000:,.0f} ms, {worst.ok} × 2xx, {worst.throttled} × 429"
        rows.append(("100-request burst from zero answered ≤ 0.5 s", shown, _verdict(met)))
    mb = f.idle_pss_mib * 1.048576
    shown = f"{mb:.2f} MB ({f.idle_pss_mib:.2f} MiB)"
    rows.append(("Idle instance PSS ≤ 6 MB", shown, _verdict(mb <= 6)))
    rows.append(("≥ 1,000 warm 128 MB instances", *_density_goal(f.fits)))
    for goal, key, factor in (
        ("Throughput c=32 ≥ 4× serverless-offline's Invoke", "serverless-offline", 4.0),
        ("Throughput c=32 ≥ 35 % of raw uvicorn", "uvicorn", 0.35),
    ):
        rows.append((goal, *_ratio_goal(f, key, factor)))
    table = "\n".join(f"| {goal} | {value} | {verdict} |" for goal, value, verdict in rows)
    return GOALS.format(rows=table, layout=http.ONE_CORE)


def _density_goal(fits: list[density.Fit]) -> tuple[str, str]:
    default = next((x for x in fits if not x.lifted), None)
    if default is None:
        return "not measured", "not measured"
    shown = f"{default.reached:,} with the engine's budget"
    if default.reached < default.requested:
        shown += (
            f" (stopped by its memory budget: {default.budget_mb:,} MB = 75 % of RAM, counted in"
            f" configured MB → {default.budget_mb // density.MEMORY_MB} × 128 MB)"
        )
    lifted = next((x for x in fits if x.lifted), None)
    if lifted is not None:
        shown += f"; {lifted.reached:,} with the budget lifted"
    return shown, _verdict(default.reached >= default.requested >= 1000)


GOALS = """## Issue 4 goals

Throughput and burst are read with the whole platform on one core ({layout}), as every peer.

| Goal | Measured (this run) | |
|---|---|---|
{rows}
"""


def _load_cells(load: peers.Load | None) -> list[str]:
    if load is None:
        return ["–"] * 3
    return [f"{load.rate:,.0f}", f"{load.p50_ms:.2f} / {load.p99_ms:.1f} ms", f"{load.failed:,}"]


def side_by_side(f: Figures) -> str:
    ours = [s.to_first_ms for s in f.cold.starts], [s.after_ready_ms for s in f.cold.starts]
    rows = [
        _row(
            "**gureum** (128 MB, platform on CPU 0)", "this checkout", *ours,
            f.gureum_load(1), f.gureum_load(http.CONCURRENCY),
        ),
        _row(
            "gureum (128 MB, server on CPU 0, instances on CPU 1)", "this checkout", [], [], None,
            f.gureum_load(http.CONCURRENCY, http.SPLIT),
        ),
    ]  # fmt: skip
    for r in f.rivals:
        if r.skipped:
            rows.append(f"| {r.name} | {_versions(r.versions)} | not measured: {r.skipped} |||||||")
            continue
        starts = [s.to_first_ms for s in r.starts], [s.after_ready_ms for s in r.starts]
        loads = r.load(1), r.load(http.CONCURRENCY)
        rows.append(_row(r.name, _versions(r.versions), *starts, *loads))
    how = "\n".join(f"- **{r.name}**: {r.how}." for r in f.rivals)
    c = http.CONCURRENCY
    columns = ["System", "Versions", "Start → first echo / port open → first echo, p50"]
    columns += ["c=1 inv/s", "c=1 p50 / p99", f"c={c} inv/s", f"c={c} p50 / p99"]
    columns += [f"c={c} failed", f"CPU/response, c={c}"]
    header = f"| {' | '.join(columns)} |\n|---|---|---|{'---:|' * 6}"
    settings = _wrk_settings(f.web)
    return SIDE_BY_SIDE.format(
        header=header, rows="\n".join(rows), how=how, cache=peers.CACHE, **settings
    )


def _row(
    name: str, versions: str, starts: list[float], after_ready: list[float],
    c1: peers.Load | None, c32: peers.Load | None,
) -> str:  # fmt: skip
    start = f"{ms(pct(starts, 50))} / {ms(pct(after_ready, 50))} (n={len(starts)})"
    cpu = f"{c32.cpu_us:,.0f} µs" if c32 else "–"
    c1_cells = _load_cells(c1)[:2]
    cells = [name, versions, start if starts else "–", *c1_cells, *_load_cells(c32), cpu]
    return "| " + " | ".join(cells) + " |"


def _versions(versions: dict[str, str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in versions.items())


def _wrk_settings(web: http.Outcome) -> dict[str, object]:
    return {"wrk": web.wrk or "wrk", "c": http.CONCURRENCY, "server_cpu": http.SERVER_CPU,
            "load_cpu": http.LOAD_CPU}  # fmt: skip


SIDE_BY_SIDE = """## Side by side: gureum and the peers, same machine, same run

Every server is started under `taskset -c {server_cpu}` (its children inherit it) and loaded by
{wrk} under `taskset -c {load_cpu}`: 1 thread, keep-alive, `{{"n": 1}}` POSTed; a Lua script
checks every status and body (a peer's exact echo bytes, taken from its first answer). Per
server: c=1 (latency), a discarded c={c} run (lets each scale out as it does), then c={c}.
*Start*: process start → first correct echo / port accepting → first correct echo (a cold start
of the handler where the server has one); gureum's is a restart of `gureum serve` on a data dir
holding the function (zygote start + cold start). *CPU/response*: utime+stime of the server and
all its child processes over the c={c} run, per response (what bounds it on one core).
Peers installed by the bench into `{cache}` (reused by later runs).

{header}
{rows}

{how}
"""


def gureum_http(f: Figures) -> str:
    c, rows = f.cold, list[str]()

    def add(label: str, value: str) -> None:
        rows.append(f"| {len(rows) + 1} | {label} | {value} |")

    add("Isolation level of `gureum serve`", f"`{c.isolation}`")
    starts = [s.to_first_ms for s in c.starts]
    add(f"`gureum serve` start → first echo, p50 (n={len(starts)})", ms(pct(starts, 50)))
    n = len(c.cold_ms)
    add(
        f"Cold start through HTTP (CreateFunction, then first Invoke), p50 / p99 / max (n={n})",
        " / ".join(
            ms(v)
            for v in (pct(c.cold_ms, 50), pct(c.cold_ms, 99), max(c.cold_ms, default=math.nan))
        ),
    )
    heavy = f"Heavy init ({c.heavy_runtime}), first invoke, no snapshot, p50 (n={len(c.heavy_ms)})"
    add(heavy, ms(pct(c.heavy_ms, 50)))
    add_scale_out(add, "without snapshot", c.scale_plain, "Init")
    if c.snapshot:
        add("Heavy init with SnapStart (`PublishedVersions`)", c.snapshot)
    else:
        snap = "Heavy init with SnapStart:"
        add(f"{snap} `publish_version` → version Active, p50", ms(pct(c.publish_ms, 50)))
        add(f"{snap} the version's first invoke, p50", ms(pct(c.snap_first_ms, 50)))
        add_scale_out(add, "from the snapshot", c.scale_snap, "Restore")
    for b in c.bursts:
        add(
            f"Burst of {coldhttp.BURST} from zero ({b.layout}): all answered; 2xx / 429 / other; "
            "p50 of one",
            f"{b.seconds * 1000:,.0f} ms; {b.ok} / {b.throttled} / {b.other}; {ms(b.p50_ms)}",
        )
    for x in f.fits:
        budget = "budget lifted by the bench" if x.lifted else "the engine's own memory budget"
        add(
            f"Warm 128 MB instances ({budget}: {x.budget_mb:,} MB): ready of requested; "
            "status; time to provision",
            f"{x.reached:,} of {x.requested:,}; {x.status}"
            f"{f' ({x.reason})' if x.reason else ''}; {x.seconds:.1f} s",
        )
        add(
            "… their PSS total / RSS total / MemAvailable drop (per instance: PSS, drop)",
            f"{x.pss_mib:,.0f} / {x.rss_mib:,.0f} / {x.used_mib:,.0f} MiB "
            f"({x.pss_mib / max(x.reached, 1):.2f}, {x.used_mib / max(x.reached, 1):.2f} MiB)",
        )
    add("Idle instance PSS, median (phase 5, in-process)", f"{f.idle_pss_mib:.2f} MiB")
    if c.skipped:
        rows.append(f"\nStopped early: {c.skipped}")
    return GUREUM_HTTP.format(
        rows="\n".join(rows), scale=coldhttp.SCALE_OUT, burst=coldhttp.BURST,
        init=coldhttp.HEAVY_INIT_S, target=density.TARGET, **_wrk_settings(f.web),
    )  # fmt: skip


def _bounds(values: Sequence[float]) -> tuple[float, float]:
    return (min(values), max(values)) if values else (math.nan, math.nan)


def add_scale_out(
    add: Callable[[str, str], None], label: str, s: coldhttp.ScaleOut, reported: str
) -> None:
    rounds = f"{len(s.rounds_ms)} round(s) of {coldhttp.SCALE_OUT}"
    add(
        f"Heavy init, scale-out {label}: per new instance p50 / min / max ({len(s.ms)} new "
        f"instances, {rounds})",
        " / ".join(ms(v) for v in (pct(s.ms, 50), *_bounds(s.ms))),
    )
    add(
        f"… their REPORT {reported} Duration p50; a round, first request to last answer, p50",
        f"{ms(pct(s.reported_ms, 50))}; {ms(pct(s.rounds_ms, 50))}",
    )


GUREUM_HTTP = """## gureum's cold paths through HTTP, burst and density

`python3 -m bench.coldhttp` and `python3 -m bench.density` run these alone. A `gureum serve`
under `taskset -c {server_cpu}` (its zygote and instances inherit it unless said), this client
under `taskset -c {load_cpu}`; control plane with boto3, invokes as raw HTTP requests.
- *Cold start*: a fresh 128 MB `return event` function each sample: CreateFunction (no warming),
  then one Invoke timed over a keep-alive connection; the function is deleted after it.
- *Heavy init*: the handler module imports asyncio, email, http.client, json and xml.etree and
  sleeps {init} s; its runtime is Python ≥ 3.12 where installed (SnapStart's floor on Lambda),
  that runtime's zygote started beforehand. Its first invoke; then a scale-out round: {scale} + 1
  invokes written at once while one instance is idle; *per new instance* are those whose REPORT
  line (`LogType: Tail`) has an Init or Restore Duration. With SnapStart:
  `update_function_configuration(SnapStart={{"ApplyOn": "PublishedVersions"}})`, `publish_version`,
  GetFunctionConfiguration's
  `SnapStart.OptimizationStatus` must be `On`; then the version's first invoke and a round.
- *Burst*: {burst} invokes of a fresh function, each on its own connection opened beforehand,
  all written back to back; timed from the first write to the last answer. Then again with the
  zygote moved to CPU {load_cpu} (new instances are forked from it, so they run there).
- *Warm instances that fit*: Python API, one 128 MB function, a published version and
  provisioned concurrency {target} on it; waited for until its status leaves IN_PROGRESS. First
  with the engine's memory budget, then (if that stopped short) with a budget of {target} × 128 MB
  (a bench-only `EngineSettings`), to see what the machine holds. PSS/RSS: `smaps_rollup` of
  each instance; MemAvailable drop: `/proc/meminfo` before and after (kernel memory included).

| # | Figure | Value |
|---|---|---:|
{rows}
"""


def versions(f: Figures) -> str:
    ours = {
        d: importlib.metadata.version(d)
        for d in ("gureum", "uvicorn", "uvloop", "httptools", "starlette", "boto3")
    } | {"python": sys.version.split()[0]}
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
        cwd=Path(__file__).parent, check=False,
    ).stdout.strip()  # fmt: skip
    lines = [f"- gureum {ours.pop('gureum')} (commit {commit or 'unknown'}): {_versions(ours)}"]
    lines += [f"- load generator: {f.web.wrk or 'wrk'}"]
    lines += [f"- {r.name}: {_versions(r.versions) or 'not installed'}" for r in f.rivals]
    return "## Versions\n\n" + "\n".join(lines) + "\n"
