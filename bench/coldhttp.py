"""gureum's cold paths through HTTP, from outside a real `gureum serve`.

    python3 -m bench.coldhttp [--quick]

The server runs pinned to CPU 0 (its zygote and instances inherit it), this client on CPU 1:
- restarts: `gureum serve` started on a data dir holding one function, timed to its first
  correct answer (the peers' starts are timed the same way, bench/procs.py);
- cold start: CreateFunction with boto3 (no warming), then one Invoke, timed; a fresh function
  each sample, deleted after it;
- heavy init: a handler that imports a few stdlib packages and sleeps 0.5 s at import. Its first
  invoke; then scale-out rounds (SCALE_OUT new instances at once, after one invoke left one
  warm) on $LATEST, and on a version published with SnapStart when the build supports it;
- burst: BURST concurrent invokes of a fresh function, timed until all are answered.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import itertools
import json
import re
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bench import http, procs
from gureum.sandbox.runtimes import available_runtimes, host_runtime

SCALE_OUT = 8  # new instances per scale-out round
BURST = 100
HEAVY_INIT_S = 0.5
HEAVY_HANDLER = f"""\
import asyncio, email.parser, http.client, json, xml.etree.ElementTree  # what apps import
import time

time.sleep({HEAVY_INIT_S})  # an expensive init: a model, a connection pool, a config fetch


def handler(event, context):
    return event
"""
# A new instance's REPORT line carries its init (Lambda: Restore Duration after a snapshot).
NEW_INSTANCE = re.compile(r"\b(?:Init|Restore) Duration: ([\d.]+) ms")
HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True, slots=True)
class Plan:
    starts: int  # `gureum serve` starts timed to the first answer
    cold: int  # fresh functions, one timed first invoke each
    heavy: int  # heavy-init functions: first invoke, then the scale-out rounds
    bursts: int  # bursts, each on a fresh function


FULL, QUICK = Plan(starts=5, cold=50, heavy=3, bursts=3), Plan(starts=1, cold=15, heavy=1, bursts=1)


@dataclass(frozen=True, slots=True)
class Burst:
    layout: str  # http.ONE_CORE, or http.SPLIT: the zygote (and so new instances) on CPU 1
    seconds: float  # first request sent to last answer read
    ok: int
    throttled: int  # 429
    other: int  # any other answer that is not the echo
    p50_ms: float


@dataclass(slots=True)
class ScaleOut:
    """The new instances of scale-out rounds."""

    ms: list[float] = field(default_factory=list)  # each one's invoke, end to end
    reported_ms: list[float] = field(default_factory=list)  # its REPORT's Init/Restore Duration
    rounds_ms: list[float] = field(default_factory=list)  # per round: first write to last answer


@dataclass(slots=True)
class Outcome:
    isolation: str = ""
    heavy_runtime: str = ""
    starts: list[procs.Start] = field(default_factory=list)
    cold_ms: list[float] = field(default_factory=list)
    heavy_ms: list[float] = field(default_factory=list)  # first invoke, fresh function
    scale_plain: ScaleOut = field(default_factory=ScaleOut)  # $LATEST, no snapshot
    snapshot: str = ""  # why there is no snapshot figure ("" when there is)
    publish_ms: list[float] = field(default_factory=list)  # publish_version → version Active
    snap_first_ms: list[float] = field(default_factory=list)  # the version's first invoke
    scale_snap: ScaleOut = field(default_factory=ScaleOut)  # a version, from its snapshot
    bursts: list[Burst] = field(default_factory=list)
    skipped: str = ""  # why the phase stopped early, if it did


def invoke_path(name: str) -> str:
    return f"/2015-03-31/functions/{name}/invocations"


def snapstart_runtime() -> str:
    """Lambda offers SnapStart for Python from 3.12: the host's runtime if it is that new, else
    the newest one installed (else the host's, and the build may refuse SnapStart for it)."""

    def version(runtime: str) -> tuple[int, ...]:
        return tuple(int(x) for x in runtime.removeprefix("python").split("."))

    newer = [r for r in available_runtimes() if version(r) >= (3, 12)]
    host = host_runtime()
    return host if host in newer or not newer else max(newer, key=version)


def create(
    client: Any, name: str, source: str, timeout_s: int = 3, runtime: str | None = None
) -> None:
    """CreateFunction of a 128 MB function whose app.py is ``source``; nothing invokes it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    client.create_function(
        FunctionName=name, Runtime=runtime or host_runtime(), Handler="app.handler", MemorySize=128,
        Timeout=timeout_s, Role="arn:aws:iam::000000000000:role/bench",
        Code={"ZipFile": buffer.getvalue()},
    )  # fmt: skip


class Invoker:
    """Timed invokes, one after another, over one keep-alive connection (http.client: the
    least client time per request)."""

    def __init__(self, port: int) -> None:
        self.connection = HTTPConnection(procs.HOST, port, timeout=60)

    def timed(self, name: str, qualifier: str | None = None) -> float:
        path = invoke_path(name) + (f"?Qualifier={qualifier}" if qualifier else "")
        started = time.perf_counter()
        self.connection.request("POST", path, http.PAYLOAD.encode(), HEADERS)
        response = self.connection.getresponse()
        body = response.read()
        elapsed_ms = (time.perf_counter() - started) * 1000
        if not procs.is_echo(response.status, body):
            raise RuntimeError(f"invoke {name}: {response.status} {body[:300]!r}")
        return elapsed_ms

    def close(self) -> None:
        self.connection.close()


@dataclass(frozen=True, slots=True)
class Answer:
    ms: float  # request written to answer read
    status: int
    body: bytes
    headers: dict[str, str]  # names in lower case

    @property
    def ok(self) -> bool:
        return procs.is_echo(self.status, self.body)

    @property
    def log(self) -> str:
        """The decoded X-Amz-Log-Result (asked for with X-Amz-Log-Type: Tail)."""
        return base64.b64decode(self.headers.get("x-amz-log-result", "")).decode(errors="replace")


def invoke_request(name: str, qualifier: str | None = None, tail: bool = False) -> bytes:
    path = invoke_path(name) + (f"?Qualifier={qualifier}" if qualifier else "")
    body = http.PAYLOAD.encode()
    lines = [f"POST {path} HTTP/1.1", f"Host: {procs.HOST}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in HEADERS.items()] + ["Connection: close"]
    lines += ["X-Amz-Log-Type: Tail"] if tail else []
    return "\r\n".join([*lines, "", ""]).encode() + body


async def _answer(reader: asyncio.StreamReader, started: float) -> Answer:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    fields = (line.split(":", 1) for line in head[1:] if ":" in line)
    headers = {name.strip().lower(): value.strip() for name, value in fields}
    length = headers.get("content-length")
    body = await (reader.readexactly(int(length)) if length else reader.read())
    return Answer((time.perf_counter() - started) * 1000, int(head[0].split()[1]), body, headers)


async def fire(port: int, requests: list[bytes]) -> tuple[float, list[Answer]]:
    """Each request on its own connection, opened first; then all written back to back, so
    they reach the server together (an HTTP client library would spread them out by its own
    per-request time, letting a warm instance serve several). Returns the seconds from the
    first write to the last answer, and the answers."""
    connections = await asyncio.gather(
        *(asyncio.open_connection(procs.HOST, port) for _ in requests)
    )
    try:
        sent = []
        for (_, writer), request in zip(connections, requests, strict=True):
            writer.write(request)
            sent.append(time.perf_counter())
        answers = await asyncio.gather(
            *(_answer(reader, t) for (reader, _), t in zip(connections, sent, strict=True))
        )
        return time.perf_counter() - sent[0], answers
    finally:
        for _, writer in connections:
            writer.close()


async def scale_out(port: int, name: str, qualifier: str | None, into: ScaleOut) -> None:
    """SCALE_OUT + 1 invokes at once while one instance is idle; the new instances are those
    whose REPORT line has an init or restore duration (without log tails: all but the fastest)."""
    requests = [invoke_request(name, qualifier, tail=True) for _ in range(SCALE_OUT + 1)]
    seconds, answers = await fire(port, requests)
    if failed := [a for a in answers if not a.ok]:
        raise RuntimeError(f"scale-out of {name}: {failed[0].status} {failed[0].body[:300]!r}")
    into.rounds_ms.append(seconds * 1000)
    if not any("REPORT" in a.log for a in answers):
        into.ms += sorted(a.ms for a in answers)[1:]
        return
    for a in answers:
        if found := NEW_INSTANCE.search(a.log):
            into.ms.append(a.ms)
            into.reported_ms.append(float(found[1]))


async def burst(port: int, name: str, layout: str) -> Burst:
    seconds, answers = await fire(port, [invoke_request(name) for _ in range(BURST)])
    ok = sum(a.ok for a in answers)
    throttled = sum(a.status == 429 for a in answers)
    p50 = sorted(a.ms for a in answers)[len(answers) // 2]
    return Burst(layout, seconds, ok, throttled, len(answers) - ok - throttled, p50)


def active(client: Any, name: str, version: str, timeout_s: float = 120.0) -> Any:
    """The version's configuration once its State is Active (polled every 10 ms)."""
    deadline = time.monotonic() + timeout_s
    while True:
        reply = client.get_function_configuration(FunctionName=name, Qualifier=version)
        state = reply.get("State", "Active")
        if state == "Active":
            return reply
        if state == "Failed" or time.monotonic() > deadline:
            raise RuntimeError(f"version {version} is {state}: {reply.get('StateReason', '')}")
        time.sleep(0.01)


def snapshot_round(client: Any, invoker: Invoker, port: int, name: str, out: Outcome) -> None:
    """SnapStart on ``name``, a version published, its first invoke, then a scale-out round.
    Leaves ``out.snapshot`` saying why not when this build does not turn it on."""
    unavailable = "snapshot scale-out not available in this build"
    try:
        config = {"ApplyOn": "PublishedVersions"}
        client.update_function_configuration(FunctionName=name, SnapStart=config)
        client.get_waiter("function_updated_v2").wait(FunctionName=name)
        started = time.perf_counter()
        version = client.publish_version(FunctionName=name)["Version"]
        reply = active(client, name, version)  # Lambda takes its snapshot before Active
        published_ms = (time.perf_counter() - started) * 1000
    except (ClientError, BotoCoreError, RuntimeError) as exc:
        out.snapshot = f"{unavailable} ({exc})"
        return
    status = reply.get("SnapStart", {}).get("OptimizationStatus")
    if status != "On":
        out.snapshot = f"{unavailable} (the version's SnapStart.OptimizationStatus is {status!r})"
        return
    out.publish_ms.append(published_ms)
    out.snap_first_ms.append(invoker.timed(name, version))
    asyncio.run(scale_out(port, name, version, out.scale_snap))


def cold_paths(port: int, server_pid: int, pin: bool, plan: Plan, out: Outcome) -> None:
    """Every figure but the restarts, on the running server at ``port``; the bursts last, as
    those in the SPLIT layout move the zygote to CPU 1."""
    client = http.lambda_client(f"http://{procs.HOST}:{port}")
    with contextlib.closing(Invoker(port)) as invoker:
        for i in range(plan.cold):
            create(client, f"cold-{i}", http.HANDLER)
            out.cold_ms.append(invoker.timed(f"cold-{i}"))
            client.delete_function(FunctionName=f"cold-{i}")  # gives its memory budget back
        runtime = out.heavy_runtime = snapstart_runtime()
        create(client, "zygote-warmup", http.HANDLER, runtime=runtime)
        invoker.timed("zygote-warmup")  # starts this runtime's zygote, if not yet running
        client.delete_function(FunctionName="zygote-warmup")
        for i in range(plan.heavy):
            create(client, f"heavy-{i}", HEAVY_HANDLER, timeout_s=30, runtime=runtime)
            out.heavy_ms.append(invoker.timed(f"heavy-{i}"))
            asyncio.run(scale_out(port, f"heavy-{i}", None, out.scale_plain))
            if not out.snapshot:
                snapshot_round(client, invoker, port, f"heavy-{i}", out)
            client.delete_function(FunctionName=f"heavy-{i}")
    layouts = [http.ONE_CORE, http.SPLIT] if pin else [http.ONE_CORE]
    for layout, _ in itertools.product(layouts, range(plan.bursts)):
        if layout == http.SPLIT:
            http.place_instances(server_pid, http.LOAD_CPU)  # later forks inherit it
        name = f"burst-{len(out.bursts)}"
        create(client, name, http.HANDLER)
        out.bursts.append(asyncio.run(burst(port, name, layout)))
        client.delete_function(FunctionName=name)


def _isolation(log: Path) -> str:
    found = re.findall(r"^isolation: (\S+)", log.read_text(errors="replace"), re.M)
    return found[-1] if found else "unknown"


@contextlib.contextmanager
def _report_progress(out: Outcome) -> Iterator[None]:
    try:
        yield
    except (RuntimeError, OSError, EOFError, ValueError, ClientError, BotoCoreError) as exc:
        out.skipped = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:400]
        print(f"  stopped early: {out.skipped}", flush=True)


def measure(plan: Plan) -> Outcome:
    pin, out = http.can_pin(), Outcome()
    print("Cold paths through HTTP (gureum serve):", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="gureum-bench-cold-") as tmp,
        procs.client_on_load_cpu(pin),
        _report_progress(out),
    ):
        root = Path(tmp)
        data, log = root / "data", root / "serve.log"
        with http.open_server(data, root / "setup.log", pin) as first:
            create(http.lambda_client(first.url), "start-probe", http.HANDLER)
        for i in range(plan.starts):
            port = procs.free_ports(1)[0]
            command = [sys.executable, "-m", "gureum", "serve", "--port", str(port)]
            env = {"GUREUM_DATA_DIR": str(data), "GUREUM_HTTP_PORT": "0"}
            spec = procs.ServerSpec(command, root, port, invoke_path("start-probe"), env)
            with procs.running(spec, log, pin) as server:
                out.starts.append(server.start)
                if i == plan.starts - 1:
                    out.isolation = _isolation(log)
                    cold_paths(port, server.process.pid, pin, plan, out)
    summarise(out)
    return out


def summarise(out: Outcome) -> None:
    def p50(values: list[float]) -> str:
        return f"{sorted(values)[len(values) // 2]:,.1f} ms (n={len(values)})" if values else "-"

    print(f"  isolation {out.isolation}", flush=True)
    print(f"  start → first answer {p50([s.to_first_ms for s in out.starts])}")
    print(f"  cold start p50 {p50(out.cold_ms)}, max {max(out.cold_ms, default=0):.1f} ms")
    print(f"  heavy-init first invoke p50 {p50(out.heavy_ms)}")
    for label, scale in ("without snapshot", out.scale_plain), ("from snapshot", out.scale_snap):
        print(
            f"  heavy-init scale-out {label}: per new instance p50 {p50(scale.ms)}, reported "
            f"init/restore p50 {p50(scale.reported_ms)}, round {p50(scale.rounds_ms)}"
        )
    print(f"  snapshot: {out.snapshot or 'on'}")
    for b in out.bursts:
        print(
            f"  burst of {BURST} ({b.layout}): all answered in {b.seconds * 1000:,.0f} ms, "
            f"{b.ok} ok, {b.throttled} × 429, {b.other} other, p50 {b.p50_ms:.1f} ms",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python3 -m bench.coldhttp", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    args = parser.parse_args()
    outcome = measure(QUICK if args.quick else FULL)
    print(json.dumps({"skipped": outcome.skipped, "cold_ms": outcome.cold_ms}))


if __name__ == "__main__":
    main()
