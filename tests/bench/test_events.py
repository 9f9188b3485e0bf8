"""BENCHMARKS.md's issue 5 section and the wrk scripts behind it, from made-up figures."""

from __future__ import annotations

import pytest

from bench import events, run

DELIVERING, HELD = events.DELIVERING, events.HELD
ROUTE, URL, DIRECT = events.ROUTE, events.URL, events.DIRECT


def load(
    label: str, connections: int, rate: float, p50_ms: float = 1.0, failed: int = 0
) -> events.Load:
    return events.Load(
        label=label, connections=connections, ok=int(rate * 10), failed=failed, seconds=10.0,
        p50_ms=p50_ms, p99_ms=p50_ms * 4, server_us=150.0, foreign=0.05,
        delivered=int(rate * 5),
    )  # fmt: skip


def outcome(running: float = 4000, held: float = 9000, skipped: str = "") -> events.Outcome:
    out = events.Outcome(events.QUICK, wrk="wrk 4.1.0", pinned=True, isolation="full")
    out.accepts = [load(DELIVERING, 32, running), load(HELD, 32, held)]
    out.drain = events.Drain(
        accepted=20_000, accepted_s=4.0, delivered_s=8.0, delivered_while_accepting=12_000,
        failed=0,
    )  # fmt: skip
    out.web = [
        load(ROUTE, 1, 1000, p50_ms=0.8), load(ROUTE, 32, 5000),
        load(URL, 1, 1000, p50_ms=0.75), load(URL, 32, 5500),
        load(DIRECT, 1, 1500, p50_ms=0.5), load(DIRECT, 32, 6250),
    ]  # fmt: skip
    out.skipped = skipped
    return out


def test_event_script_sends_events_and_stops_after_the_limit() -> None:
    script = events.event_script(2000)
    assert 'wrk.headers["X-Amz-Invocation-Type"] = "Event"' in script
    assert "[==[{}]==]" in script  # a 202's body
    assert "if ok + throttled + other >= 2000 then wrk.thread:stop() end" in script
    assert "thread:stop" not in events.event_script()


def test_get_script_replaces_the_request_and_the_body_check() -> None:
    script = events.get_script()
    # Later assignments win: the GET and its check come after http.py's POST and its check.
    assert script.index('wrk.method = "GET"') > script.index('wrk.method = "POST"')
    assert script.rindex("function response") > script.index('wrk.method = "GET"')
    assert '"version": "2.0"' in script


def test_drain_rates() -> None:
    drain = outcome().drain
    assert drain is not None
    assert drain.end_to_end_rate == 2500  # 20,000 events in 8 s
    assert drain.backlog_rate == 2000  # the 8,000 left when wrk ended, in the 4 s after


def test_goal_says_met_and_not_met_for_each_reading() -> None:
    text = events.goal(outcome(running=4000, held=9000))
    assert "deliveries running: **NOT met** (4,000/s)" in text
    assert "delivery held: met (9,000/s)" in text
    assert "**NOT met**" not in events.goal(outcome(running=5000, held=9000))


def test_refused_accepts_miss_the_goal_whatever_the_rate() -> None:
    out = outcome()
    out.accepts[1] = load(HELD, 32, 9000, failed=3)
    assert "delivery held: **NOT met**" in events.goal(out)


@pytest.mark.parametrize(
    ("label", "connections", "expected"),
    [(ROUTE, 32, "0.80× req/s"), (URL, 32, "0.88× req/s"), (ROUTE, 1, "1.60× p50")],
)
def test_ratio_is_over_direct_invoke(label: str, connections: int, expected: str) -> None:
    assert events.ratio(outcome(), label, connections) == expected


def test_ratio_without_direct_invoke_is_a_dash() -> None:
    out = outcome()
    out.web = [r for r in out.web if r.label != DIRECT]
    assert events.ratio(out, ROUTE, 32) == "–"


def test_section_holds_every_figure() -> None:
    text = events.section(outcome())
    assert text.startswith("## Events and HTTP routes (issue 5")
    assert "| deliveries running, c=32 | Accepted (202) per second | 4,000 |" in text
    assert "| delivery held, c=32 | Delivered per second meanwhile | 4,500 |" in text
    assert "| End to end | Delivered per second, first accept to last delivery | 2,500 |" in text
    assert "| End to end | Delivered per second, backlog after the last accept | 2,000 |" in text
    assert (
        "| HTTP route `GET /bench`, c=32 | Requests per second | 5,000 (0.80× req/s direct) |"
        in text
    )
    assert "| direct Invoke, c=1 | Latency p50 / p99 | 0.500 / 2.000 ms |" in text
    assert "wrk 4.1.0" in text
    assert "{" not in text.replace("{}", "").replace('{"n": 1}', "")  # every field filled in


def test_section_of_a_phase_that_stopped_early() -> None:
    out = outcome(skipped="stopped early: RuntimeError: boom")
    out.web = []
    text = events.section(out)
    assert "| – | The phase stopped early: RuntimeError: boom | – |" in text
    assert "deliveries running: **NOT met**" in text
    nothing = events.Outcome(events.QUICK, skipped="wrk is not installed")
    assert "Not measured: wrk is not installed." in events.section(nothing)
    assert events.goal(nothing).endswith(": not measured (wrk is not installed)")


def test_the_report_has_a_place_for_the_section() -> None:
    assert "\n{events_section}\n" in run.REPORT
