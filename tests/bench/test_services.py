"""BENCHMARKS.md's issue 6 section, from made-up figures."""

from __future__ import annotations

import dataclasses

import pytest

from bench import run, services

BOTO3, PLAIN = services.BOTO3, services.PLAIN
PUT_SMALL, GET_LARGE = "S3 PutObject, 4 KiB", "S3 GetObject, 8 MiB"
SEND = "SQS SendMessage"


def load(
    operation: str,
    client: str,
    items: int,
    item_bytes: int = 0,
    server_busy: float = 0.9,
    client_busy: float = 0.3,
    failed: int = 0,
) -> services.Load:
    """A 2 s run of ``items`` in as many calls."""
    return services.Load(
        operation=operation, client=client, calls=items, items=items, item_bytes=item_bytes,
        seconds=2.0, p50_ms=1.5, p99_ms=6.0, server_busy=server_busy, client_busy=client_busy,
        server_others=0.05, client_others=0.02, failed=failed,
        error="RuntimeError: boom" if failed else "",
    )  # fmt: skip


def outcome(skipped: str = "") -> services.Outcome:
    out = services.Outcome(services.QUICK, pinned=True, isolation="full", skipped=skipped)
    out.loads = [
        load(PUT_SMALL, BOTO3, 600, services.SMALL, server_busy=0.3, client_busy=0.95),
        load(PUT_SMALL, PLAIN, 2000, services.SMALL),
        load(GET_LARGE, PLAIN, 400, services.LARGE),
        load(SEND, BOTO3, 1600, server_busy=0.4, client_busy=0.7),
        load(SEND, PLAIN, 6000),
    ]
    out.starts = services.Starts(start_ms=[3.0, 4.0, 5.0, 105.0], put_ms=[2.0, 2.0, 2.0, 3.0])
    return out


def test_rates_per_second_and_cpu_per_call() -> None:
    put, _, get = outcome().loads[:3]
    assert put.rate == 300
    assert get.mib_rate == 1600  # 200 objects/s of 8 MiB
    assert put.rate_text() == "300 objects/s"
    assert get.rate_text() == "1,600 MiB/s (200.0 objects/s)"
    assert outcome().loads[3].rate_text() == "800 messages/s"
    assert put.cpu_us(put.client_busy) == pytest.approx(3166.7, abs=0.1)  # 1.9 s over 600 calls


@pytest.mark.parametrize(
    ("server_busy", "client_busy", "expected"),
    [
        (0.9, 0.3, "server"),
        (0.3, 0.9, "client"),
        (0.8, 0.75, "server and client"),
        (0.72, 0.5, "neither CPU"),  # the others' 5 % of CPU 0 is not the server's
    ],
)
def test_bottleneck_is_the_side_whose_cpu_was_full(
    server_busy: float, client_busy: float, expected: str
) -> None:
    r = load(SEND, PLAIN, 100, server_busy=server_busy, client_busy=client_busy)
    assert r.bottleneck == expected


def test_headline_takes_the_faster_client_of_each_operation() -> None:
    assert services.headline(outcome()) == [
        f"{PUT_SMALL}: 1,000 objects/s, http.client × 8",
        f"{GET_LARGE}: 1,600 MiB/s (200.0 objects/s), http.client × 8",
        f"{SEND}: 3,000 messages/s, http.client × 8",
        "Upload to function start: p50 4.5 ms, p99 102.0 ms (n=4)",
    ]


def test_client_notes_name_only_the_runs_boto3_bounded() -> None:
    notes = services.client_notes(outcome())
    assert len(notes) == 1
    assert notes[0].startswith(f"- {PUT_SMALL}: boto3 kept CPU 1 95% busy (3,167 µs of client")
    assert notes[0].endswith("300 objects/s against http.client's 1,000 objects/s")


def test_runs_on_a_full_and_crowded_server_cpu_are_named_once() -> None:
    out = outcome()
    assert services.crowded_notes(out) == []
    out.loads[0] = dataclasses.replace(out.loads[0], server_others=0.3)  # CPU 0 only 60 % busy
    out.loads[1] = dataclasses.replace(out.loads[1], server_others=0.3)
    out.loads[4] = dataclasses.replace(out.loads[4], server_others=0.25)
    (note,) = services.crowded_notes(out)
    assert f"during: {PUT_SMALL}, http.client (30%); {SEND}, http.client (25%)." in note


def test_section_holds_every_figure() -> None:
    text = services.section(outcome())
    assert text.startswith("## Storage and queues (issue 6")
    assert (
        f"| {PUT_SMALL} | boto3 | 300 objects/s | 1.50 / 6.00 ms | 1,000 / 3,167 µs | "
        "30% (5%) / 95% (2%) | client | 0 |" in text
    )
    assert f"| {GET_LARGE} | http.client | 1,600 MiB/s (200.0 objects/s) |" in text
    assert "| Upload to function start (n=4) | p50 / p99 / max | 4.5 / 102.0 / 105.0 ms |" in text
    assert "| PutObject answered (n=4) | p50 / p99 | 2.00 / 2.97 ms |" in text
    assert "`taskset -c 0`" in text
    assert "{" not in text and "}" not in text  # every field filled in


def test_section_of_a_phase_that_stopped_early() -> None:
    out = outcome(skipped="stopped early: RuntimeError: boom")
    out.starts = None
    out.loads[1] = load(PUT_SMALL, PLAIN, 2000, services.SMALL, failed=2)
    text = services.section(out)
    assert "| – | not measured | – |" in text
    assert "- The phase stopped early: RuntimeError: boom" in text
    assert "| 2: RuntimeError: boom |" in text
    nothing = services.Outcome(services.QUICK, skipped="stopped early: OSError: no disk")
    assert services.section(nothing) == (
        "## Storage and queues (issue 6)\n\nNot measured: stopped early: OSError: no disk.\n"
    )
    assert services.headline(nothing) == []


def test_the_report_has_a_place_for_the_section() -> None:
    assert "\n{events_section}\n{services_section}\n" in run.REPORT
