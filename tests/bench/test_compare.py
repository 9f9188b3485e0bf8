"""BENCHMARKS.md's issue 4 sections, from made-up figures."""

from __future__ import annotations

import math

import pytest

from bench import coldhttp, compare, density, http, peers, procs


def load(connections: int, rate: float) -> peers.Load:
    return peers.Load(connections, rate, 1.0, 2.0, 0, 100.0, 0.0)


def run(connections: int, rate: float, layout: str = http.ONE_CORE) -> http.Run:
    return http.Run(
        memory_mb=128, connections=connections, layout=layout, ok=int(rate), throttled=0,
        other=0, wrong_body=0, socket_errors=0, seconds=1.0, p50_ms=1.0, p90_ms=1.5,
        p99_ms=2.0, max_ms=3.0, server_us=200.0, instances_us=100.0, foreign=0.0,
        instances=32, quota_throttled=0,
    )  # fmt: skip


def fit(reached: int, lifted: bool) -> density.Fit:
    return density.Fit(
        budget_mb=18_000, lifted=lifted, requested=1000, reached=reached,
        status="READY" if reached == 1000 else "FAILED", reason="", seconds=1.0,
        pss_mib=reached * 1.5, rss_mib=reached * 10.0, used_mib=reached * 4.0, invoke_ok=True,
    )  # fmt: skip


def figures(snapshot: str = "", sls_skipped: str = "") -> compare.Figures:
    cold = coldhttp.Outcome(
        isolation="full", starts=[procs.Start(900.0, 250.0)], cold_ms=[2.0, 2.5, 12.0],
        heavy_ms=[550.0], snapshot=snapshot,
        bursts=[coldhttp.Burst(http.ONE_CORE, 0.4, 100, 0, 0, 300.0)],
    )  # fmt: skip
    if not snapshot:
        cold.scale_snap.ms = [4.0, 6.0]
    uvicorn = peers.Result(peers.PEERS[0].name, loads=[load(1, 9000), load(32, 20_000)])
    sls = peers.Result(peers.PEERS[1].name, skipped=sls_skipped)
    if not sls_skipped:
        sls.loads = [load(1, 1000), load(32, 1000)]
    web = http.Outcome(runs=[run(1, 800), run(32, 8000), run(32, 9000, http.SPLIT)], wrk="wrk")
    return compare.Figures(cold, [fit(140, False), fit(1000, True)], web, [uvicorn, sls], 1.5)


def goal(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| {name}"))


def test_pct_handles_few_values() -> None:
    assert math.isnan(compare.pct([], 50))
    assert compare.pct([3.0], 99) == 3.0
    assert compare.pct([1.0, 2.0, 3.0], 50) == 2.0


def test_goals_say_met_and_not_met() -> None:
    text = compare.goals(figures())
    assert goal(text, "Cold start p50").endswith("| met |")
    assert "**NOT met**" in goal(text, "Cold start p99")  # p99 of 2, 2.5, 12 ms ≈ 11.8
    assert goal(text, "Snapshot scale-out").endswith("| met |")
    assert goal(text, "100-request burst").endswith("| met |")
    assert "stopped by its memory budget" in goal(text, "≥ 1,000 warm")
    assert "**NOT met**" in goal(text, "≥ 1,000 warm")
    assert "8.00×" in goal(text, "Throughput c=32 ≥ 4×")
    assert "40%" in goal(text, "Throughput c=32 ≥ 35 %")


def test_missing_snapshot_and_peer_are_said_so() -> None:
    text = compare.goals(figures("snapshot scale-out not available in this build (Off)", "npm"))
    assert "snapshot scale-out not available in this build" in goal(text, "Snapshot")
    assert "not measured: npm" in goal(text, "Throughput c=32 ≥ 4×")
    table = compare.side_by_side(figures(sls_skipped="npm install failed"))
    assert "not measured: npm install failed" in table


@pytest.mark.parametrize("body", [b'{"n": 1}', b'{"n":1}\n'])
def test_wrk_script_checks_the_exact_body(body: bytes) -> None:
    assert f"[==[{body.decode()}]==]" in http.wrk_script(body)


def test_wrk_script_refuses_what_it_cannot_quote() -> None:
    with pytest.raises(ValueError):
        http.wrk_script(b"]==]")
