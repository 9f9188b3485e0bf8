"""Storage and queues (issue 6): S3 and SQS through a real `gureum serve`, from outside it.

    python3 -m bench.services [--quick]

bench/http.py's set-up: the server pinned to CPU 0, this process (the load generator) to CPU 1.
Each throughput run: CLIENTS threads, each with its own client and keep-alive connection, call
one operation in a loop, bounded in time and in calls; once with boto3 (SigV4-signed, so every
body is hashed) and once with http.client (unsigned requests, which gureum takes on loopback:
the least client CPU per request Python has):
- S3: PutObject then GetObject of 4 KiB objects (objects/s) and of 8 MiB objects (MiB/s);
- SQS: SendMessage, SendMessageBatch of 10, ReceiveMessage of 10 + DeleteMessageBatch;
- upload to function start: a bucket notifies a function of `s3:ObjectCreated:*`, and the
  function sends its own `time.time()` at handler start to a queue; sequential uploads of small
  objects to the warm function.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import tempfile
import threading
import time
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from bench import events, http, procs
from bench.service_clients import BATCH, Boto3Client, Client, PlainClient, aws_client
from gureum.sandbox.runtimes import host_runtime

CLIENTS = 8  # threads, each with its own client and connection
SMALL, LARGE = 4 * 1024, 8 * 1024 * 1024  # object sizes
LARGE_KEYS = 2  # keys each thread overwrites with 8 MiB objects: the disk stays bounded
MESSAGE = "m" * 100  # each SQS message's body
SATURATED = 0.75  # a side this busy on its CPU over a run is the run's bottleneck
# Other processes' share of a full server CPU past which the run is marked: on this shared
# machine they also fill what time a side leaves idle, so their share is not counted as ours.
CROWDED = 0.2
WARM_UPLOADS = 3  # uploads before the timed ones: the first starts the function's instance
BUCKET, QUEUE = "bench", "bench"
UPLOADS, STARTS, FUNCTION = "uploads", "starts", "on-upload"
BOTO3, PLAIN = "boto3", "http.client"
ROLE = "arn:aws:iam::000000000000:role/bench"
# Its boto3 client is made at import, so a warm instance has its connection open already.
START_HANDLER = """\
import json
import time

import boto3

sqs = boto3.client("sqs")
queue = sqs.get_queue_url(QueueName="starts")["QueueUrl"]


def handler(event, context):
    started = time.time()
    key = event["Records"][0]["s3"]["object"]["key"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"key": key, "started": started}))
    return {}
"""


@dataclass(frozen=True, slots=True)
class Plan:
    """Bounds of each throughput run, and how many uploads are timed end to end."""

    seconds: float
    calls: int  # per run, all threads together
    large_calls: int  # the same for 8 MiB objects
    uploads: int


FULL, QUICK = Plan(8, 40_000, 400, 50), Plan(2, 10_000, 100, 15)


def pct(values: Sequence[float], q: int) -> float:
    """The q-th percentile, interpolated between closest ranks (numpy's default)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def size_label(size: int) -> str:
    return f"{size // 1024**2} MiB" if size >= 1024**2 else f"{size // 1024} KiB"


@dataclass(frozen=True, slots=True)
class Load:
    """One throughput run: CLIENTS threads calling one operation."""

    operation: str
    client: str  # BOTO3 or PLAIN
    calls: int  # timed calls that succeeded
    items: int  # objects or messages they moved
    item_bytes: int  # each object's size; 0 for messages
    seconds: float
    p50_ms: float
    p99_ms: float
    server_busy: float  # the server process's CPU time over the run's wall time
    client_busy: float  # the same of this process (every client thread)
    server_others: float  # share of the server's CPU used by other processes meanwhile
    client_others: float  # the same of the client's CPU
    failed: int = 0  # threads stopped by an error
    error: str = ""  # the first error

    @property
    def rate(self) -> float:
        """Objects or messages per second."""
        return self.items / self.seconds

    @property
    def mib_rate(self) -> float:
        return self.rate * self.item_bytes / 1024**2

    def cpu_us(self, busy: float) -> float:
        """``busy`` (a share of the wall time) as CPU microseconds per call."""
        return busy * self.seconds / max(self.calls, 1) * 1e6

    @property
    def bottleneck(self) -> str:
        """The side that kept its CPU (nearly) busy over the run."""
        sides = (("server", self.server_busy), ("client", self.client_busy))
        return " and ".join(name for name, busy in sides if busy >= SATURATED) or "neither CPU"

    def rate_text(self) -> str:
        if self.item_bytes >= 1024**2:
            return f"{self.mib_rate:,.0f} MiB/s ({self.rate:,.1f} objects/s)"
        return f"{self.rate:,.0f} {'objects' if self.item_bytes else 'messages'}/s"


@dataclass(frozen=True, slots=True)
class Starts:
    """Sequential uploads to a bucket that notifies a warm function."""

    start_ms: list[float]  # PUT about to be sent, to the handler's own time.time() at its start
    put_ms: list[float]  # PUT about to be sent, to its answer read


@dataclass(slots=True)
class Outcome:
    """The phase's figures, or why there are none."""

    plan: Plan
    loads: list[Load] = field(default_factory=list)
    starts: Starts | None = None
    pinned: bool = False
    isolation: str = ""
    skipped: str = ""


# -- throughput runs ------------------------------------------------------------------------------

# One call of thread n (client, n, i; i=0 is its untimed first call): how many objects or messages
# it moved (0: none left, which ends the thread).
Call = Callable[[Client, int, int], int]


class CpuMeter:
    """From its making on: the server process's CPU time and this process's, each over the wall
    time, and the share of each one's CPU that other processes used (only meaningful pinned)."""

    def __init__(self, server_pid: int) -> None:
        self.pid, self.cpus = server_pid, (http.SERVER_CPU, http.LOAD_CPU)
        self.began, self.cpu = time.perf_counter(), time.process_time()
        self.server = http.cpu_ticks([server_pid]).get(server_pid, 0)
        self.cores = [http.core_ticks(c) for c in self.cpus]

    def read(self) -> tuple[float, float, float, float, float]:
        """Seconds; busy server, client; others' share of the server's CPU, the client's."""
        seconds, tick = time.perf_counter() - self.began, 1 / os.sysconf("SC_CLK_TCK")
        server = (http.cpu_ticks([self.pid]).get(self.pid, 0) - self.server) * tick
        spent = (server, time.process_time() - self.cpu)
        cores = zip(self.cores, map(http.core_ticks, self.cpus), spent, strict=True)
        others = [
            max(0.0, (after[0] - before[0]) * tick - own) / max((after[1] - before[1]) * tick, tick)
            for before, after, own in cores
        ]
        return seconds, spent[0] / seconds, spent[1] / seconds, others[0], others[1]


@dataclass(frozen=True, slots=True)
class Bench:
    """The running server and how to reach it."""

    server: http.Server
    queue_url: str
    plan: Plan

    def drive(self, operation: str, kind: str, call: Call, limit: int, item_bytes: int = 0) -> Load:
        """``call`` in CLIENTS threads from one start, each with its own client of ``kind``,
        until the plan's seconds or ``limit`` calls in all; and what the server, this process
        and other processes spent of the CPUs meanwhile."""
        make = Boto3Client if kind == BOTO3 else PlainClient
        clients = [make(self.server.url, self.queue_url) for _ in range(CLIENTS)]  # not thread-safe
        latencies: list[list[float]] = [[] for _ in clients]
        items, errors = [0] * CLIENTS, list[str]()
        each, deadline = max(1, limit // CLIENTS), float("inf")
        ready = threading.Barrier(CLIENTS + 1, timeout=120)

        def loop(n: int) -> None:
            try:
                call(clients[n], n, 0)  # untimed: opens the connection
                ready.wait()
                for i in range(1, each + 1):
                    began = time.perf_counter()
                    if began > deadline:
                        break
                    moved = call(clients[n], n, i)
                    latencies[n].append(time.perf_counter() - began)
                    items[n] += moved
                    if not moved:
                        break
            # A thread's own end: what went wrong is reported with the figures, not lost.
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}".replace("\n", " ")[:300])
                ready.abort()

        threads = [threading.Thread(target=loop, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        try:
            ready.wait()  # every thread made its first call
        except threading.BrokenBarrierError:
            for t in threads:
                t.join()
            raise RuntimeError(f"{operation}, {kind}: {errors[0]}") from None
        deadline, meter = time.perf_counter() + self.plan.seconds, CpuMeter(self.server.process.pid)
        for t in threads:
            t.join()
        seconds, server_busy, client_busy, server_others, client_others = meter.read()
        timed = [s * 1000 for per_thread in latencies for s in per_thread] or [0.0]
        load = Load(
            operation=operation, client=kind, calls=sum(map(len, latencies)), items=sum(items),
            item_bytes=item_bytes, seconds=seconds, p50_ms=pct(timed, 50), p99_ms=pct(timed, 99),
            server_busy=server_busy, client_busy=client_busy, server_others=server_others,
            client_others=client_others, failed=len(errors), error=errors[0] if errors else "",
        )  # fmt: skip
        print(f"  {describe(load)}", flush=True)
        return load


def describe(r: Load) -> str:
    return (
        f"{r.operation}, {r.client} ×{CLIENTS}: {r.rate_text()}, p50 {r.p50_ms:.2f} ms, p99 "
        f"{r.p99_ms:.2f} ms; CPU per call: server {r.cpu_us(r.server_busy):,.0f} µs, client "
        f"{r.cpu_us(r.client_busy):,.0f} µs; busy: server {r.server_busy:.0%} (others "
        f"{r.server_others:.0%}), client {r.client_busy:.0%} (others {r.client_others:.0%}); "
        f"bottleneck: {r.bottleneck}"
        + (f"; {r.failed} threads failed: {r.error}" if r.failed else "")
    )


def objects(b: Bench, kind: str, size: int) -> list[Load]:
    """PutObject, then GetObject of what was put: 4 KiB objects each to a new key, 8 MiB ones
    over LARGE_KEYS keys per thread."""
    body, written = os.urandom(size), list[str]()  # random: nothing on the way compresses it
    keys = LARGE_KEYS if size >= 1024**2 else None
    limit = b.plan.large_calls if keys else b.plan.calls

    def put(c: Client, n: int, i: int) -> int:
        key = f"{kind}/{size}/{n}/{i % keys if keys else i}"
        c.put(BUCKET, key, body)
        written.append(key)
        return 1

    def get(c: Client, n: int, i: int) -> int:
        key = stored[(n + i * CLIENTS) % len(stored)]
        if (got := c.get(BUCKET, key)) != size:
            raise RuntimeError(f"GET {key}: {got} bytes, not {size}")
        return 1

    puts = b.drive(f"S3 PutObject, {size_label(size)}", kind, put, limit, size)
    stored = list(dict.fromkeys(written))
    return [puts, b.drive(f"S3 GetObject, {size_label(size)}", kind, get, limit, size)]


def messages(b: Bench, kind: str) -> list[Load]:
    """SendMessage, SendMessageBatch, then ReceiveMessage + DeleteMessageBatch until the queue is
    empty (or the run's bounds)."""
    batch = [MESSAGE] * BATCH
    runs: list[tuple[str, Call]] = [
        ("SQS SendMessage", lambda c, n, i: c.send(MESSAGE)),
        (f"SQS SendMessageBatch ({BATCH})", lambda c, n, i: c.send_batch(batch)),
        (f"SQS ReceiveMessage ({BATCH}) + DeleteMessageBatch", lambda c, n, i: c.receive()),
    ]
    return [b.drive(label, kind, call, b.plan.calls) for label, call in runs]


# -- upload to function start ---------------------------------------------------------------------


def create_notified_function(url: str) -> None:
    """The function that reports its start, its queue, and a bucket that notifies it of every
    object created."""
    s3 = aws_client("s3", url, s3={"addressing_style": "path"})
    sqs, lam = aws_client("sqs", url), http.lambda_client(url)
    sqs.create_queue(QueueName=STARTS)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", START_HANDLER)
    arn: str = lam.create_function(
        FunctionName=FUNCTION, Runtime=host_runtime(), Handler="app.handler", MemorySize=1024,
        Timeout=30, Role=ROLE, Code={"ZipFile": buffer.getvalue()},
    )["FunctionArn"]  # fmt: skip
    s3.create_bucket(Bucket=UPLOADS)
    s3.put_bucket_notification_configuration(
        Bucket=UPLOADS,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )


def started_at(sqs: Any, queue_url: str, key: str, timeout_s: float = 60) -> float:
    """The handler's time.time() at its start for the upload of ``key`` (other reports, late
    ones of earlier uploads, are deleted and passed over)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=BATCH, WaitTimeSeconds=1)
        found = None
        for m in got.get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            report = json.loads(m["Body"])
            if report["key"] == key:
                found = float(report["started"])
        if found is not None:
            return found
    raise RuntimeError(f"{FUNCTION} did not report the upload of {key} within {timeout_s:.0f} s")


def wait_done(url: str, count: int, timeout_s: float = 60) -> None:
    """Returns once FUNCTION's async queue is done with ``count`` events: its instance is free
    again, so the next upload finds it warm (not busy returning, which would start another)."""
    deadline = time.monotonic() + timeout_s
    stats = f"{url}/_gureum/functions/{FUNCTION}/stats?since={time.time():.3f}"
    while True:
        with urllib.request.urlopen(stats, timeout=30) as answer:
            queue = json.load(answer)["async"]
        if sum(queue[k] for k in events.DONE) >= count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{FUNCTION} not done with {count} uploads: {queue}")
        time.sleep(0.002)


def upload_to_start(b: Bench, pin: bool) -> Starts:
    """Sequential 4 KiB uploads with the plain client (the least time of its own before the
    request is on the wire), each timed to the start of the function it triggers."""
    create_notified_function(b.server.url)
    sqs = aws_client("sqs", b.server.url, read_timeout=30)
    queue_url = sqs.get_queue_url(QueueName=STARTS)["QueueUrl"]
    uploader, body = PlainClient(b.server.url, queue_url), os.urandom(SMALL)
    out = Starts([], [])
    for i in range(WARM_UPLOADS + b.plan.uploads):
        key = f"upload-{i:04d}"
        sent = time.time()
        uploader.put(UPLOADS, key, body)
        answered = time.time()
        started = started_at(sqs, queue_url, key)
        wait_done(b.server.url, i + 1)
        if i == 0 and pin:  # the zygote exists now; later instances are forked there too
            http.place_instances(b.server.process.pid, http.LOAD_CPU)
        if i >= WARM_UPLOADS:
            out.start_ms.append((started - sent) * 1000)
            out.put_ms.append((answered - sent) * 1000)
    print(
        f"  upload to function start (n={len(out.start_ms)}): p50 {pct(out.start_ms, 50):.1f} "
        f"ms, p99 {pct(out.start_ms, 99):.1f} ms, max {max(out.start_ms):.1f} ms; PUT answered "
        f"p50 {pct(out.put_ms, 50):.2f} ms",
        flush=True,
    )
    return out


def measure(plan: Plan) -> Outcome:
    """Every figure of the section, from one server on a temporary data dir."""
    pin = http.can_pin()
    out = Outcome(plan, pinned=pin)
    with (
        tempfile.TemporaryDirectory(prefix="gureum-bench-services-") as tmp,
        procs.stopped_early(out),
        http.open_server(Path(tmp) / "data", Path(tmp) / "serve.log", pin) as server,
        procs.client_on_load_cpu(pin),  # the client threads started meanwhile inherit it
    ):
        out.isolation = server.isolation
        aws_client("s3", server.url, s3={"addressing_style": "path"}).create_bucket(Bucket=BUCKET)
        queue_url = aws_client("sqs", server.url).create_queue(QueueName=QUEUE)["QueueUrl"]
        b = Bench(server, queue_url, plan)
        for kind in (BOTO3, PLAIN):
            out.loads += objects(b, kind, SMALL) + objects(b, kind, LARGE) + messages(b, kind)
        out.starts = upload_to_start(b, pin)
    return out


# -- BENCHMARKS.md -------------------------------------------------------------------------------


def best(out: Outcome, operation: str) -> Load | None:
    """The faster client's run of ``operation``."""
    runs = [r for r in out.loads if r.operation == operation]
    return max(runs, key=lambda r: r.rate, default=None)


def headline(out: Outcome) -> list[str]:
    """One line per figure issue 6 asks for, from the faster client."""
    fastest = [best(out, operation) for operation in dict.fromkeys(r.operation for r in out.loads)]
    lines = [f"{r.operation}: {r.rate_text()}, {r.client} × {CLIENTS}" for r in fastest if r]
    if out.starts is not None:
        s = out.starts.start_ms
        lines.append(
            f"Upload to function start: p50 {pct(s, 50):.1f} ms, p99 {pct(s, 99):.1f} ms "
            f"(n={len(s)})"
        )
    return lines


def client_notes(out: Outcome) -> list[str]:
    """Where boto3's own CPU, not the server, bounded a run."""
    notes, plains = [], {r.operation: r for r in out.loads if r.client == PLAIN}
    for r in out.loads:
        plain = plains.get(r.operation)
        if r.client != BOTO3 or "client" not in r.bottleneck or plain is None:
            continue
        notes.append(
            f"- {r.operation}: boto3 kept CPU {http.LOAD_CPU} {r.client_busy:.0%} busy "
            f"({r.cpu_us(r.client_busy):,.0f} µs of client CPU per call, http.client "
            f"{plain.cpu_us(plain.client_busy):,.0f} µs): {r.rate_text()} against http.client's "
            f"{plain.rate_text()}"
        )
    return notes


def crowded_notes(out: Outcome) -> list[str]:
    """Runs during which the server's CPU was full, a good share of it used by other processes."""
    crowded = [
        r
        for r in out.loads
        if r.server_others >= CROWDED and r.server_busy + r.server_others >= SATURATED
    ]
    if not crowded:
        return []
    runs = "; ".join(f"{r.operation}, {r.client} ({r.server_others:.0%})" for r in crowded)
    return [
        f"- Other processes used at least {CROWDED:.0%} of CPU {http.SERVER_CPU} during: {runs}. "
        "Their server figures are likely low: rerun on a quieter machine to compare them."
    ]


COLUMNS = (
    "Operation", "Client", "Rate", "Latency p50 / p99", "CPU per call: server / client",
    "Busy: server (others) / client (others)", "Bottleneck", "Failed threads",
)  # fmt: skip


def _row(r: Load) -> str:
    cpu = f"{r.cpu_us(r.server_busy):,.0f} / {r.cpu_us(r.client_busy):,.0f} µs"
    busy = (
        f"{r.server_busy:.0%} ({r.server_others:.0%}) / {r.client_busy:.0%} ({r.client_others:.0%})"
    )
    failed = f"{r.failed}: {r.error.replace('|', '/')}" if r.failed else "0"
    return (
        f"| {r.operation} | {r.client} | {r.rate_text()} | {r.p50_ms:.2f} / {r.p99_ms:.2f} ms | "
        f"{cpu} | {busy} | {r.bottleneck} | {failed} |"
    )


def _starts_rows(s: Starts) -> list[str]:
    n = f"n={len(s.start_ms)}"
    return [
        f"| Upload to function start ({n}) | p50 / p99 / max | {pct(s.start_ms, 50):.1f} / "
        f"{pct(s.start_ms, 99):.1f} / {max(s.start_ms):.1f} ms |",
        f"| PutObject answered ({n}) | p50 / p99 | {pct(s.put_ms, 50):.2f} / "
        f"{pct(s.put_ms, 99):.2f} ms |",
    ]


def section(out: Outcome) -> str:
    if not (out.loads or out.starts):
        return f"## Storage and queues (issue 6)\n\nNot measured: {out.skipped}.\n"
    starts = _starts_rows(out.starts) if out.starts else ["| – | not measured | – |"]
    notes = client_notes(out) + crowded_notes(out)
    if out.skipped:
        notes.append(f"- The phase {out.skipped}")
    return SECTION.format(
        isolation=out.isolation, pinning=pinning(out), clients=CLIENTS,
        boto3=boto3.__version__, batch=BATCH, message=len(MESSAGE), large_keys=LARGE_KEYS,
        saturated=SATURATED,
        warm=WARM_UPLOADS, function=FUNCTION, headline="\n".join(f"- {h}" for h in headline(out)),
        header=f"| {' | '.join(COLUMNS)} |\n|---|---|---:|---:|---:|---:|---|---|",
        rows="\n".join(map(_row, out.loads)), starts="\n".join(starts),
        notes="\n".join(notes), seconds=out.plan.seconds, calls=out.plan.calls,
        large_calls=out.plan.large_calls, uploads=out.plan.uploads,
    )  # fmt: skip


def pinning(out: Outcome) -> str:
    if not out.pinned:
        return "not pinned (`taskset` or a second CPU missing)"
    return (
        f"`gureum serve` under `taskset -c {http.SERVER_CPU}`, this process and its client "
        f"threads on CPU {http.LOAD_CPU}; for the uploads, the zygote and the function's "
        f"instance on CPU {http.LOAD_CPU} too (the server process alone on CPU {http.SERVER_CPU})"
    )


SECTION = """## Storage and queues (issue 6; `python3 -m bench.services` runs it alone)

{headline}

A real `gureum serve --port 0` (isolation `{isolation}`) on a temporary data dir; an
acknowledged write (object or message) is on disk (fsync). Pinning:
{pinning}.

- **Throughput**: {clients} threads in this process, each with its own client and keep-alive
  connection, call one operation in a loop from one start, for at most {seconds:g} s and {calls:,}
  calls in all ({large_calls:,} with 8 MiB objects); each thread's first call is untimed (it
  opens the connection). Two clients, each measured:
  - *boto3* {boto3}, defaults: over http SigV4 signs the SHA-256 of every body and S3 calls add
    a CRC32 checksum (gureum verifies both), PutObject sends `Expect: 100-continue`; path-style;
  - *http.client*: unsigned requests, which gureum takes on loopback (`PUT`/`GET /bucket/key`,
    SQS's JSON protocol with `X-Amz-Target`): the least client CPU per request in Python.

  S3: 4 KiB PutObjects each to a new key, then GetObjects of those keys; 8 MiB PutObjects over
  {large_keys} keys per thread (the disk stays bounded), then GetObjects of them; random bodies.
  SQS: one standard queue, {message}-byte bodies; a ReceiveMessage ({batch}, no wait) and the
  DeleteMessageBatch of what it got count as one call, until the queue is empty.
- **Upload to function start**: a bucket with a `LambdaFunctionConfigurations` notification
  (`s3:ObjectCreated:*`) to `{function}` (1024 MB), whose handler first takes `time.time()`,
  then sends it to a queue with a boto3 client made at import. {uploads} sequential 4 KiB
  uploads (http.client) after {warm} untimed ones (the first starts the instance). Each waits
  for its report (this process long-polls the queue), then for the function's async queue to
  count the event done (`GET /_gureum/functions/{function}/stats`): an upload sent while the
  previous invocation is still returning finds no idle instance and starts another (a cold
  start whose init imports boto3, not the warm path timed here). Timed from `time.time()` just
  before the PUT is sent to the handler's own `time.time()` (one machine, one clock).

*CPU per call*: utime+stime of the server process (`/proc/<pid>/stat`) and of this process
(`time.process_time()`, every thread) over the run, per call. *Busy*: that CPU time over the
run's wall time; in brackets, the share of the same CPU other processes used (`/proc/stat`;
this machine is shared, and they also fill whatever time our side leaves idle). *Bottleneck*:
the side that kept its CPU at least {saturated:.0%} busy; *neither CPU*: calls wait on something
else (fsync, each other) or were crowded out by other processes.

{header}
{rows}

| Run | Figure | Value |
|---|---|---:|
{starts}

{notes}
"""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python3 -m bench.services", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 s runs and 15 timed uploads")
    args = parser.parse_args()
    out = measure(QUICK if args.quick else FULL)
    for line in headline(out):
        print(line)
    if out.skipped:
        raise SystemExit(out.skipped)


if __name__ == "__main__":
    main()
