"""How many warm 128 MB instances fit on this machine.

    python3 -m bench.density [--target N] [--isolation full|process]

Through the Python API: one 128 MB function, a published version, and provisioned concurrency
of TARGET instances on it (`put_provisioned_concurrency_config`), waited for until its status
is no longer IN_PROGRESS. Run twice: with the engine's own memory budget (75 % of RAM, counted
in configured MB, not in memory used), then with the budget lifted (a bench-only setting), to
show what the machine itself holds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import re
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bench.http import HANDLER, PAYLOAD
from gureum import PlatformSettings, open_platform
from gureum.engine.engine import EngineSettings
from gureum.errors import GureumError
from gureum.sandbox.runtimes import host_runtime
from gureum.types import IsolationLevel

TARGET, MEMORY_MB = 1000, 128
SETTLE_TIMEOUT_S = 600.0


@dataclass(frozen=True, slots=True)
class Fit:
    budget_mb: int  # the engine's memory budget in this run
    lifted: bool  # whether the bench set it (else the engine's default)
    requested: int
    reached: int  # AvailableProvisionedConcurrentExecutions
    status: str  # the provisioned concurrency Status (READY or FAILED)
    reason: str  # its StatusReason
    seconds: float  # put to settled
    pss_mib: float  # all instances, total
    rss_mib: float
    used_mib: float  # MemAvailable before minus after
    invoke_ok: bool  # an invoke of the version answered correctly with all of them up


def memory_of(pid: int) -> tuple[float, float]:
    """(PSS, RSS) in MiB, or zeros for a process that is gone."""
    with contextlib.suppress(OSError):
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        kb = dict(re.findall(r"^(Pss|Rss):\s+(\d+)", rollup, re.M))
        return int(kb["Pss"]) / 1024, int(kb["Rss"]) / 1024
    return 0.0, 0.0


def available_mib() -> float:
    meminfo = Path("/proc/meminfo").read_text()
    return int(re.findall(r"^MemAvailable:\s+(\d+)", meminfo, re.M)[0]) / 1024


def code_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buffer.getvalue()


async def fit(target: int, budget_mb: int | None, isolation: IsolationLevel | None) -> Fit:
    """Provision ``target`` instances under ``budget_mb`` (None: the engine's default)."""
    engine = EngineSettings() if budget_mb is None else EngineSettings(memory_budget_mb=budget_mb)
    settings = PlatformSettings(engine=engine, isolation=isolation)
    with tempfile.TemporaryDirectory(prefix="gureum-bench-fit-") as tmp:
        async with await open_platform(tmp, settings) as p:
            await p.functions.create(
                name="fit", runtime=host_runtime(), handler="app.handler", code=code_zip(),
                memory_mb=MEMORY_MB,
            )  # fmt: skip
            version = (await p.versions.publish("fit")).version
            before, started = available_mib(), time.perf_counter()
            await p.provisioning.put("fit", version, target)
            deadline = time.monotonic() + SETTLE_TIMEOUT_S
            while p.provisioning.describe("fit", version)["Status"] == "IN_PROGRESS":
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            seconds = time.perf_counter() - started
            state = p.provisioning.describe("fit", version)
            memory = [memory_of(i.sandbox.pid) for i in p.engine.instances("fit")]
            result = await p.invoke("fit", PAYLOAD.encode(), qualifier=version)
            return Fit(
                budget_mb=engine.memory_budget_mb, lifted=budget_mb is not None,
                requested=target, reached=state["AvailableProvisionedConcurrentExecutions"],
                status=state["Status"], reason=state.get("StatusReason", ""), seconds=seconds,
                pss_mib=sum(m[0] for m in memory), rss_mib=sum(m[1] for m in memory),
                used_mib=before - available_mib(),
                invoke_ok=result.ok and result.payload == PAYLOAD.encode(),
            )  # fmt: skip


async def measure(target: int, isolation: IsolationLevel | None) -> list[Fit]:
    """With the engine's budget; then, if that stopped short, with room for ``target``."""
    print(f"Warm {MEMORY_MB} MB instances that fit (provisioned concurrency {target}):")
    fits: list[Fit] = []
    try:
        fits.append(await fit(target, None, isolation))
        if fits[0].reached < target:
            fits.append(await fit(target, target * MEMORY_MB + MEMORY_MB, isolation))
    except (GureumError, OSError, RuntimeError) as exc:
        print(f"  stopped: {type(exc).__name__}: {exc}", flush=True)
    for f in fits:
        budget = f"budget {f.budget_mb:,} MB ({'lifted by the bench' if f.lifted else 'default'})"
        print(
            f"  {budget}: {f.reached:,} of {f.requested:,} ready in {f.seconds:.1f} s, status "
            f"{f.status} {f.reason!r}, PSS total {f.pss_mib:,.0f} MiB, RSS total "
            f"{f.rss_mib:,.0f} MiB, MemAvailable −{f.used_mib:,.0f} MiB, invoke ok {f.invoke_ok}",
            flush=True,
        )
    return fits


def main() -> None:
    parser = argparse.ArgumentParser(prog="python3 -m bench.density", description=__doc__)
    parser.add_argument("--target", type=int, default=TARGET)
    parser.add_argument("--isolation", choices=["full", "process"], help="default: the strongest")
    args = parser.parse_args()
    asyncio.run(measure(args.target, args.isolation))


if __name__ == "__main__":
    main()
