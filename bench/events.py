"""Events and HTTP routes (issue 5), against a real `gureum serve` driven by wrk.

    python3 -m bench.events [--quick]

bench/http.py's set-up: the server pinned to CPU 0, wrk (and this process) to CPU 1; once the
zygote exists, it and the instances are moved to CPU 1 (the server process alone on CPU 0). One
128 MB function per measurement, `return event`:
- durable async accepts: wrk at c=32 POSTs `{"n": 1}` with `X-Amz-Invocation-Type: Event`, and
  counts 202s; once with deliveries running beside it, once with delivery held (every delivery
  slot taken by a function that sleeps, so the accepts are queued and nothing else runs);
- end to end: N events accepted as fast as wrk sends them, timed until the queue is empty;
- HTTP route (payload 2.0) and function URL on the user-facing listener next to direct Invoke on
  the management port: c=1 (latency) and c=32 (throughput).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from bench import coldhttp, http, procs
from gureum.events.delivery import DeliverySettings

ACCEPT_GOAL = 5000.0  # durable async accepts per second at c=32 (issue 5)
# Asynchronous delivery runs at most this many events at once (`gureum serve` keeps the default).
DELIVERY_SLOTS = DeliverySettings().max_in_flight
INVOKE_PATH = "/2015-03-31/functions/{}/invocations"
DELIVERING, HELD = "deliveries running", "delivery held"
ROUTE, URL, DIRECT = "HTTP route `GET /bench`", "function URL", "direct Invoke"
DONE = ("succeeded", "failed", "dropped")  # the queue's counters of events it is done with
SCALE_OUT = 4 * DELIVERY_SLOTS  # events sent end to end first, so that every slot has an instance
POLL_S = 0.05  # how often the queue is read while it drains: the end-to-end timings' resolution
# Sleeps for as long as its event says: a delivery slot kept busy without using a CPU.
HOLD_HANDLER = (
    "import time\n\n\n"
    "def handler(event, context):\n"
    "    time.sleep(event.get('hold_s', 0))\n"
    "    return event\n"
)


@dataclass(frozen=True, slots=True)
class Plan:
    """Seconds per wrk run (c=1, the discarded warm-up at c=32, c=32), and events end to end."""

    latency_s: int
    warmup_s: int
    load_s: int
    events: int


FULL, QUICK = Plan(10, 2, 10, 20_000), Plan(3, 1, 3, 2_000)

# wrk runs its script top to bottom before it builds its request, so what follows bench/http.py's
# script overrides its request and, where the body varies, its check of each response.
_EVENT_LUA = """
wrk.headers["X-Amz-Invocation-Type"] = "Event"
"""
_STOP_LUA = """
local counted = response
function response(status, headers, body)
  counted(status, headers, body)
  if ok + throttled + other >= LIMIT then wrk.thread:stop() end
end
"""
# Routes and function URLs answer with the payload 2.0 event, which holds a request id and a time.
_GET_LUA = """
wrk.method = "GET"
wrk.body = nil
wrk.headers["Content-Type"] = nil
function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
    if not string.find(body, '"version": "2.0"', 1, true) then wrong = wrong + 1 end
  elseif status == 429 then throttled = throttled + 1
  else other = other + 1 end
end
"""


def event_script(limit: int | None = None) -> str:
    """Event invokes, each expected to be answered 202 with `{}`; wrk stops after ``limit``."""
    script = http.wrk_script(b"{}") + _EVENT_LUA
    return script + _STOP_LUA.replace("LIMIT", str(limit)) if limit else script


def get_script() -> str:
    """`GET`, each expected to be answered with a payload 2.0 event."""
    return http.wrk_script() + _GET_LUA


@dataclass(frozen=True, slots=True)
class Load:
    """One measured wrk run."""

    label: str
    connections: int
    ok: int  # 2xx with the expected body
    failed: int  # any other answer, wrong bodies and socket errors
    seconds: float
    p50_ms: float
    p99_ms: float
    server_us: float  # CPU of the `gureum serve` process per answer
    foreign: float  # share of the server's CPU used by other processes (noise on a shared host)
    delivered: int = 0  # events delivered during the run (accept runs)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds


@dataclass(frozen=True, slots=True)
class Drain:
    """``accepted`` events sent as fast as wrk can, then delivered; times from the first accept."""

    accepted: int
    accepted_s: float  # to the last accept
    delivered_s: float  # to the last delivery
    delivered_while_accepting: int
    failed: int  # given up on or dropped, and refused accepts

    @property
    def end_to_end_rate(self) -> float:
        return self.accepted / self.delivered_s

    @property
    def backlog_rate(self) -> float:
        """Deliveries per second once the accepts stopped: delivery with nothing beside it."""
        left = self.accepted - self.delivered_while_accepting
        return left / max(self.delivered_s - self.accepted_s, 1e-9)


@dataclass(slots=True)
class Outcome:
    """The phase's figures, or why there are none."""

    plan: Plan
    accepts: list[Load] = field(default_factory=list)
    drain: Drain | None = None
    web: list[Load] = field(default_factory=list)  # routes, function URL, direct Invoke
    wrk: str = ""
    pinned: bool = False
    isolation: str = ""
    skipped: str = ""

    def load(self, label: str, connections: int = http.CONCURRENCY) -> Load | None:
        runs = self.accepts + self.web
        return next((r for r in runs if (r.label, r.connections) == (label, connections)), None)


@dataclass(frozen=True, slots=True)
class Bench:
    """The running server and how to drive it."""

    server: http.Server
    client: Any  # boto3's Lambda client
    wrk: str
    scripts: Path  # where the Lua scripts are written
    pin: bool

    def invoke_url(self, name: str) -> str:
        return self.server.url + INVOKE_PATH.format(name)

    def queue(self, name: str) -> dict[str, int]:
        """The function's async queue: its depth and DONE counters (from its stats, which
        summarise only the last second of telemetry: a cheap request)."""
        url = f"{self.server.url}/_gureum/functions/{name}/stats?since={time.time() - 1:.3f}"
        with urllib.request.urlopen(url, timeout=30) as answer:
            queue = json.load(answer)["async"]
        return {key: int(queue[key]) for key in ("depth", *DONE)}

    def script(self, name: str, text: str) -> Path:
        path = self.scripts / f"{name}.lua"
        path.write_text(text)
        return path

    def drive(self, label: str, url: str, script: Path, connections: int, seconds: int) -> Load:
        """One wrk run, and what the server process and others spent of its CPU meanwhile."""
        pid = self.server.process.pid
        before, core = http.cpu_ticks([pid]).get(pid, 0), http.core_ticks(http.SERVER_CPU)
        w = http.wrk_run(self.wrk, script, url, connections, seconds, self.pin)
        spent = http.cpu_ticks([pid]).get(pid, 0) - before
        busy, total = (b - a for a, b in zip(core, http.core_ticks(http.SERVER_CPU), strict=True))
        answers = w["ok"] + w["throttled"] + w["other"]
        return Load(
            label=label, connections=connections, ok=w["ok"] - w["wrong_body"],
            failed=answers - w["ok"] + w["wrong_body"] + w["socket_errors"],
            seconds=w["duration_us"] / 1e6, p50_ms=w["p50_us"] / 1e3, p99_ms=w["p99_us"] / 1e3,
            server_us=spent * 1e6 / os.sysconf("SC_CLK_TCK") / max(answers, 1),
            foreign=max(0, busy - spent) / max(total, 1),  # only meaningful pinned
        )  # fmt: skip


def accepts(b: Bench, plan: Plan, name: str, label: str) -> Load:
    """202s per second at c=32 for ``name``, after a discarded warm-up run."""
    script = b.script("event", event_script())
    b.drive(label, b.invoke_url(name), script, http.CONCURRENCY, plan.warmup_s)
    before = b.queue(name)["succeeded"]
    run = b.drive(label, b.invoke_url(name), script, http.CONCURRENCY, plan.load_s)
    run = dataclasses.replace(run, delivered=b.queue(name)["succeeded"] - before)
    print(
        f"  async accepts, {label}: {run.rate:,.0f} 202/s (failed {run.failed}), "
        f"p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms, server CPU {run.server_us:.0f} µs "
        f"per 202, {run.delivered / run.seconds:,.0f} delivered/s meanwhile, others on CPU "
        f"{http.SERVER_CPU} {run.foreign:.0%}",
        flush=True,
    )
    return run


@contextlib.contextmanager
def delivery_held(b: Bench, plan: Plan) -> Iterator[None]:
    """Every delivery slot busy with an event that sleeps, meanwhile; its function is deleted
    after (with whatever was queued behind it) and the slots free once the sleeps end."""
    hold_s = plan.warmup_s + plan.load_s + 3
    coldhttp.create(b.client, "hold", HOLD_HANDLER, timeout_s=hold_s + 30)
    # The reservation makes one more invoke a 429 exactly when every slot is taken.
    b.client.put_function_concurrency(
        FunctionName="hold", ReservedConcurrentExecutions=DELIVERY_SLOTS
    )
    for _ in range(DELIVERY_SLOTS):
        b.client.invoke(FunctionName="hold", InvocationType="Event", Payload=_hold(hold_s))
    deadline = time.monotonic() + 60
    while True:
        try:
            b.client.invoke(FunctionName="hold", Payload=_hold(0))
        except ClientError as error:
            if error.response["Error"]["Code"] != "TooManyRequestsException":
                raise
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the held deliveries did not start within 60 s: {b.queue('hold')}")
        time.sleep(0.05)
    released = time.monotonic() + hold_s + 1
    try:
        yield
    finally:
        b.client.delete_function(FunctionName="hold")
        time.sleep(max(0.0, released - time.monotonic()))


def _hold(seconds: float) -> bytes:
    return json.dumps({"hold_s": seconds}).encode()


def wrk_until(b: Bench, script: Path, url: str, enough: Callable[[], bool], bound_s: int) -> Any:
    """wrk at c=32 until ``enough()`` (asked every POLL_S) or ``bound_s``; the script's summary.

    SIGINT is how wrk's own run ends early: it stops, then prints and summarises as after -d.
    """
    command = http.wrk_command(b.wrk, script, url, http.CONCURRENCY, bound_s, b.pin)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as wrk:
        while wrk.poll() is None and not enough():
            time.sleep(POLL_S)
        wrk.send_signal(signal.SIGINT)  # nothing if it has ended
        stdout, stderr = wrk.communicate(timeout=60)
    return http.wrk_summary(subprocess.CompletedProcess(command, wrk.returncode, stdout, stderr))


def accept_and_deliver(b: Bench, name: str, count: int) -> Drain:
    """``count`` events at c=32, timed until delivered. wrk's script stops sending after
    ``count`` answers; this process ends wrk once the server counts them all."""
    script = b.script(f"event-{count}", event_script(count))
    bound_s = max(60, count // 200)
    before = b.queue(name)

    def accepted(queue: dict[str, int]) -> int:
        return sum(queue[k] - before[k] for k in DONE) + queue["depth"] - before["depth"]

    started = time.monotonic()
    w = wrk_until(b, script, b.invoke_url(name), lambda: accepted(b.queue(name)) >= count, bound_s)
    accepted_s = time.monotonic() - started
    queue = during = b.queue(name)
    while queue["depth"] and time.monotonic() - started < 2 * bound_s:
        time.sleep(POLL_S)
        queue = b.queue(name)
    delivered_s = time.monotonic() - started
    if queue["depth"]:
        raise RuntimeError(f"{queue['depth']} events still queued after {delivered_s:.0f} s")
    refused = w["throttled"] + w["other"] + w["wrong_body"] + w["socket_errors"]
    return Drain(
        accepted=accepted(queue), accepted_s=accepted_s, delivered_s=delivered_s,
        delivered_while_accepting=during["succeeded"] - before["succeeded"],
        failed=sum(queue[k] - before[k] for k in DONE if k != "succeeded") + refused,
    )  # fmt: skip


def end_to_end(b: Bench, plan: Plan) -> Drain:
    http.deploy(b.client, "e2e", 128)
    accept_and_deliver(b, "e2e", SCALE_OUT)
    drain = accept_and_deliver(b, "e2e", plan.events)
    print(
        f"  end to end: {drain.accepted:,} events accepted in {drain.accepted_s:.2f} s, all "
        f"delivered after {drain.delivered_s:.2f} s: {drain.end_to_end_rate:,.0f} events/s; "
        f"backlog after the last accept delivered at {drain.backlog_rate:,.0f}/s "
        f"(failed {drain.failed})",
        flush=True,
    )
    b.client.delete_function(FunctionName="e2e")
    return drain


def routes(b: Bench, plan: Plan) -> list[Load]:
    """A route, a function URL and direct Invoke of the same function, each at c=1 and c=32."""
    http.deploy(b.client, "web", 128)
    request = urllib.request.Request(
        f"{b.server.url}/_gureum/routes/bench",
        data=json.dumps(
            {"routes": [{"route": "GET /bench", "function": "web", "payloadFormat": "2.0"}]}
        ).encode(),
        method="PUT",
    )
    urllib.request.urlopen(request, timeout=30).close()
    function_url = b.client.create_function_url_config(FunctionName="web", AuthType="NONE")
    url_id = function_url["FunctionUrl"].split("//", 1)[1].split(".", 1)[0]
    get, post = b.script("get", get_script()), b.script("invoke", http.wrk_script())
    targets = (
        (ROUTE, f"{b.server.functions_url}/bench", get),
        (URL, f"{b.server.functions_url}/_lambda-url/{url_id}/", get),
        (DIRECT, b.invoke_url("web"), post),
    )
    runs = []
    for label, url, script in targets:
        runs.append(b.drive(label, url, script, 1, plan.latency_s))
        b.drive(label, url, script, http.CONCURRENCY, plan.warmup_s)  # scales out
        runs.append(b.drive(label, url, script, http.CONCURRENCY, plan.load_s))
        for r in runs[-2:]:
            print(
                f"  {label} c={r.connections}: {r.rate:,.0f} req/s, p50 {r.p50_ms:.3f} ms, "
                f"p99 {r.p99_ms:.3f} ms, failed {r.failed}, server CPU {r.server_us:.0f} µs, "
                f"others on CPU {http.SERVER_CPU} {r.foreign:.0%}",
                flush=True,
            )
    b.client.delete_function(FunctionName="web")
    return runs


def measure(plan: Plan) -> Outcome:
    """Every figure of the section, from one server on a temporary data dir."""
    wrk = http.ensure_wrk()
    if wrk is None:
        return Outcome(plan, skipped="wrk is not installed (`sudo apt-get install -y wrk`)")
    pin = http.can_pin()
    out = Outcome(plan, wrk=http.wrk_version(wrk), pinned=pin)
    with (
        tempfile.TemporaryDirectory(prefix="gureum-bench-events-") as tmp,
        procs.stopped_early(out),
        http.open_server(Path(tmp) / "data", Path(tmp) / "serve.log", pin) as server,
        procs.client_on_load_cpu(pin),
    ):
        out.isolation = server.isolation
        b = Bench(server, http.lambda_client(server.url), wrk, Path(tmp), pin)
        http.deploy(b.client, "accept", 128)  # also starts the zygote
        if pin:  # the zygote's later forks inherit it
            http.place_instances(server.process.pid, http.LOAD_CPU)
        out.accepts.append(accepts(b, plan, "accept", DELIVERING))
        b.client.delete_function(FunctionName="accept")  # and the events still queued for it
        http.deploy(b.client, "held", 128)
        with delivery_held(b, plan):
            out.accepts.append(accepts(b, plan, "held", HELD))
            b.client.delete_function(FunctionName="held")
        out.drain = end_to_end(b, plan)
        out.web = routes(b, plan)
    return out


# -- BENCHMARKS.md -------------------------------------------------------------------------------


def verdict(met: bool) -> str:
    return "met" if met else "**NOT met**"


def goal(out: Outcome) -> str:
    """Issue 5's accept goal, read with deliveries running and with delivery held."""
    where = f"128 MB, {http.SPLIT}" if out.pinned else "128 MB, not pinned"
    label = f"Durable async accepts at c={http.CONCURRENCY} ≥ {ACCEPT_GOAL:,.0f}/s ({where})"
    found = [r for r in (out.load(DELIVERING), out.load(HELD)) if r is not None]
    if not found:
        return f"{label}: not measured ({out.skipped})"
    readings = [f"{r.label}: {verdict(_meets_goal(r))} ({r.rate:,.0f}/s)" for r in found]
    return f"{label}: " + "; ".join(readings)


def _meets_goal(run: Load) -> bool:
    return run.rate >= ACCEPT_GOAL and run.failed == 0


def ratio(out: Outcome, label: str, connections: int) -> str:
    """``label``'s figure over direct Invoke's: throughput at c=32, latency p50 at c=1."""
    ours, direct = out.load(label, connections), out.load(DIRECT, connections)
    if ours is None or direct is None:
        return "–"
    if connections == 1:
        return f"{ours.p50_ms / direct.p50_ms:.2f}× p50"
    return f"{ours.rate / direct.rate:.2f}× req/s"


def _row(r: Load, figure: str, value: str) -> str:
    return f"| {r.label}, c={r.connections} | {figure} | {value} |"


def section(out: Outcome) -> str:
    if not (out.accepts or out.drain or out.web):
        return f"## Events and HTTP routes (issue 5)\n\nNot measured: {out.skipped}.\n"
    rows = []
    for r in out.accepts:
        rows += [
            _row(r, "Accepted (202) per second", f"{r.rate:,.0f}"),
            _row(r, "Latency p50 / p99", f"{r.p50_ms:.2f} / {r.p99_ms:.2f} ms"),
            _row(r, "Delivered per second meanwhile", f"{r.delivered / r.seconds:,.0f}"),
            _row(r, "Server CPU per 202; refused or failed", f"{r.server_us:.0f} µs; {r.failed}"),
            _row(r, f"Others' share of CPU {http.SERVER_CPU}", f"{r.foreign:.0%}"),
        ]
    if out.drain is not None:
        d = out.drain
        rows += [
            f"| End to end, {d.accepted:,} events | Accepted in; all delivered after | "
            f"{d.accepted_s:.2f} s; {d.delivered_s:.2f} s |",
            f"| End to end | Delivered per second, first accept to last delivery | "
            f"{d.end_to_end_rate:,.0f} |",
            f"| End to end | Delivered per second, backlog after the last accept | "
            f"{d.backlog_rate:,.0f} |",
            f"| End to end | Failed, dropped or refused | {d.failed} |",
        ]
    for r in out.web:
        versus = "" if r.label == DIRECT else f" ({ratio(out, r.label, r.connections)} direct)"
        if r.connections == 1:
            rows.append(_row(r, "Latency p50 / p99", f"{r.p50_ms:.3f} / {r.p99_ms:.3f} ms{versus}"))
        else:
            rows.append(_row(r, "Requests per second", f"{r.rate:,.0f}{versus}"))
        cpu = f"{r.server_us:.0f} µs; {r.foreign:.0%}; {r.failed}"
        figure = f"Server CPU per answer; others' share of CPU {http.SERVER_CPU}; failed"
        rows.append(_row(r, figure, cpu))
    if out.skipped:
        rows.append(f"| – | The phase {out.skipped} | – |")
    return SECTION.format(
        goal=goal(out), isolation=out.isolation, wrk=out.wrk, pinning=pinning(out),
        c=http.CONCURRENCY, slots=DELIVERY_SLOTS, poll_ms=POLL_S * 1000, delivering=DELIVERING,
        held=HELD, scale_out=SCALE_OUT, server_cpu=http.SERVER_CPU, rows="\n".join(rows),
        **dataclasses.asdict(out.plan),
    )  # fmt: skip


def pinning(out: Outcome) -> str:
    if not out.pinned:
        return "not pinned (`taskset` or a second CPU missing)"
    return (
        f"`gureum serve` under `taskset -c {http.SERVER_CPU}`; wrk (`taskset -c {http.LOAD_CPU}`), "
        f"this process, the zygote and the instances on CPU {http.LOAD_CPU} "
        f"(*{http.SPLIT}*)"
    )


SECTION = """## Events and HTTP routes (issue 5; `python3 -m bench.events` runs it alone)

- {goal}

A real `gureum serve --port 0` (isolation `{isolation}`; its user-facing listener on a free port
too) on a temporary data dir, driven by {wrk} (1 thread, keep-alive; a Lua script checks every
status and body). Every function: 128 MB, `return event`, created with boto3, invoked 20 times.
Pinning: {pinning}.

- **Async accepts**: `POST /2015-03-31/functions/NAME/invocations` with `{{"n": 1}}` and
  `X-Amz-Invocation-Type: Event`, c={c} for {load_s} s after a discarded {warmup_s} s run. A 202
  (body `{{}}`) is sent only once the event is committed to SQLite (group commit,
  `synchronous=FULL`). *{delivering}*: delivery invokes the function meanwhile, as in use
  (*delivered per second*: the queue's `succeeded` counter over the run). *{held}*: all {slots}
  delivery slots are first taken by events of a function that sleeps through the run (reserved
  concurrency {slots}, so one more invoke answered 429 shows they are); the accepted events wait
  behind them and the delivery loop only polls the queue.
- **End to end**: after {scale_out} events that scale the function out, wrk stops after
  {events:,} answers at c={c}; `GET /_gureum/functions/NAME/stats` is read every {poll_ms:.0f} ms
  until its async `depth` is 0. *First accept to last delivery* counts from wrk's start;
  *backlog*: the events not yet delivered when wrk ended, over the time they took after it.
- **HTTP routes**: one function behind `PUT /_gureum/routes/bench` (`GET /bench`, payload 2.0)
  and its function URL (`AuthType NONE`, path form `/_lambda-url/URL-ID/`), both on the
  user-facing listener, and direct `Invoke` on the management port (`POST` `{{"n": 1}}`). Each:
  c=1 for {latency_s} s (latency), a discarded c={c} run of {warmup_s} s, c={c} for {load_s} s.
  Ratios are over direct Invoke in the same run.

Server CPU: utime+stime of the `gureum serve` process (`/proc/<pid>/stat`) over the run, per
answer; its instances are not counted. *Others' share*: CPU {server_cpu} time used by processes
that are not the server (other work on this shared machine; CPU {server_cpu} runs only the server).

| Run | Figure | Value |
|---|---|---:|
{rows}
"""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python3 -m bench.events", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 s runs and 2,000 events")
    args = parser.parse_args()
    out = measure(QUICK if args.quick else FULL)
    print(goal(out).replace("**", ""))
    if out.skipped:
        raise SystemExit(out.skipped)


if __name__ == "__main__":
    main()
