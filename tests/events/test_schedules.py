"""Schedules on a manual clock: ticks, the Scheduled Event, downtime, validation, warm-up."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from gureum import Platform
from gureum.clock import ManualClock
from gureum.errors import ResourceNotFoundException
from gureum.events.schedules import ConflictException, Schedule, ValidationException
from tests.conftest import CAN_ISOLATE, deployer

Opener = Callable[..., Awaitable[Platform]]
LEVEL = "full" if CAN_ISOLATE else "process"

SINK = """
import json
def handler(event, context):
    print("EVENT " + json.dumps(event))
"""


def target(platform: Platform, name: str) -> str:
    return platform.settings.engine.function_arn(name)


async def events_of(platform: Platform, name: str) -> list[dict[str, object]]:
    await platform.events.delivery.drain()
    lines = await platform.logs(name)
    return [json.loads(ln.message.split("EVENT ", 1)[1]) for ln in lines if "EVENT " in ln.message]


async def fire(platform: Platform) -> int:
    fired = await platform.schedules.tick()
    await platform.events.delivery.drain()
    return fired


async def test_rate_fires_each_tick_once_with_the_scheduled_event(
    open_custom: Opener, clock: ManualClock
) -> None:
    platform = await open_custom(LEVEL)
    try:
        await deployer(platform)("sink", SINK)
        created = clock.time()
        await platform.schedules.put(
            Schedule("every-5", "rate(5 minutes)", target(platform, "sink")), create=True
        )
        assert platform.schedules.next_tick("default", "every-5") == created + 300
        clock.advance(299)
        assert await fire(platform) == 0
        clock.advance(1)
        assert await fire(platform) == 1
        assert await fire(platform) == 0  # the same tick never fires twice
        (event,) = await events_of(platform, "sink")
        assert event["detail-type"] == "Scheduled Event"
        assert event["source"] == "aws.scheduler"
        assert event["detail"] == {}
        assert event["time"] == datetime.fromtimestamp(created + 300, UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        assert event["resources"] == [
            "arn:aws:scheduler:us-east-1:000000000000:schedule/default/every-5"
        ]
        clock.advance(300)
        assert await fire(platform) == 1
        assert len(await events_of(platform, "sink")) == 2
    finally:
        await platform.aclose()


@pytest.mark.parametrize(("catch_up", "expected"), [("once", 1), ("skip", 0)])
async def test_ticks_missed_while_down_fire_at_most_once(
    open_custom: Opener, clock: ManualClock, catch_up: str, expected: int
) -> None:
    platform = await open_custom(LEVEL)
    try:
        await deployer(platform)("sink", SINK)
        schedule = Schedule(
            "minutely", "rate(1 minute)", target(platform, "sink"), catch_up=catch_up
        )
        await platform.schedules.put(schedule, create=True)
        clock.advance(60)
        assert await fire(platform) == 1
    finally:
        await platform.aclose()

    clock.advance(600)  # ten ticks pass while gureum is down
    platform = await open_custom(LEVEL)
    try:
        # The scheduler's own first pass at start may fire it before the test does: count.
        await fire(platform)
        assert len(await events_of(platform, "sink")) == 1 + expected
        assert await fire(platform) == 0
        clock.advance(60)  # and then it keeps time again
        assert await fire(platform) == 1
        assert len(await events_of(platform, "sink")) == 2 + expected
    finally:
        await platform.aclose()


async def test_a_fired_tick_is_not_fired_again_after_a_restart(
    open_custom: Opener, clock: ManualClock
) -> None:
    platform = await open_custom(LEVEL)
    try:
        await deployer(platform)("sink", SINK)
        await platform.schedules.put(
            Schedule("hourly", "rate(1 hour)", target(platform, "sink")), create=True
        )
        clock.advance(3600)
        assert await platform.schedules.tick() == 1
    finally:
        await platform.aclose()
    platform = await open_custom(LEVEL)
    try:
        assert await platform.schedules.tick() == 0
    finally:
        await platform.aclose()


async def test_cron_in_a_named_zone_and_custom_input(
    open_custom: Opener, clock: ManualClock
) -> None:
    platform = await open_custom(LEVEL)
    try:
        await deployer(platform)("sink", SINK)
        schedule = Schedule(
            "berlin-nine",
            "cron(0 9 * * ? *)",
            target(platform, "sink"),
            timezone="Europe/Berlin",
            input='{"job": "report"}',
        )
        await platform.schedules.put(schedule, create=True)
        tick = platform.schedules.next_tick("default", "berlin-nine")
        assert tick is not None
        local = datetime.fromtimestamp(tick, UTC).astimezone(schedule_zone("Europe/Berlin"))
        assert (local.hour, local.minute) == (9, 0)
        clock.advance(tick - clock.time())
        assert await fire(platform) == 1
        assert await events_of(platform, "sink") == [{"job": "report"}]
    finally:
        await platform.aclose()


def schedule_zone(name: str):  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


async def test_validation(open_custom: Opener) -> None:
    platform = await open_custom(LEVEL)
    try:
        await deployer(platform)("sink", SINK)
        arn = target(platform, "sink")
        put = platform.schedules.put
        with pytest.raises(ValidationException, match=r"day-of-month or the day-of-week"):
            await put(Schedule("bad", "cron(0 12 * * * *)", arn), create=True)
        with pytest.raises(ValidationException, match="rate"):
            await put(Schedule("bad", "rate(1 minutes)", arn), create=True)
        with pytest.raises(ValidationException, match="time zone"):
            await put(Schedule("bad", "rate(1 minute)", arn, timezone="Mars/Base"), create=True)
        with pytest.raises(ValidationException, match="is a queue"):
            await put(
                Schedule("bad", "rate(1 minute)", "arn:aws:sqs:us-east-1:000000000000:q"),
                create=True,
            )
        with pytest.raises(ValidationException, match="not a function"):
            await put(
                Schedule("bad", "rate(1 minute)", "arn:aws:sns:us-east-1:000000000000:t"),
                create=True,
            )
        with pytest.raises(ResourceNotFoundException):
            await put(Schedule("bad", "rate(1 minute)", target(platform, "gone")), create=True)
        await put(Schedule("ok", "rate(1 minute)", arn), create=True)
        with pytest.raises(ConflictException):
            await put(Schedule("ok", "rate(2 minutes)", arn), create=True)
        assert [s.name for s in platform.schedules.list()] == ["ok"]
    finally:
        await platform.aclose()


async def test_the_target_is_warm_before_its_tick(open_custom: Opener, clock: ManualClock) -> None:
    platform = await open_custom(LEVEL)
    try:
        await deployer(platform)("sink", SINK)
        await platform.schedules.put(
            Schedule("daily", "rate(1 day)", target(platform, "sink")), create=True
        )
        clock.advance(86400 - 1)  # within the warm-up lead of the first tick
        await platform.schedules.warm_up()
        assert len(platform.engine.instances("sink")) == 1
        clock.advance(1)
        assert await fire(platform) == 1
        (record,) = await platform.telemetry.records("sink")
        assert record.cold_start is False
    finally:
        await platform.aclose()


async def test_a_schedule_whose_target_was_deleted_keeps_the_others_firing(
    open_custom: Opener, clock: ManualClock
) -> None:
    # As on EventBridge Scheduler, deleting a function leaves the schedules that name it; their
    # ticks are dropped at delivery (nobody to deliver to), and nothing else is disturbed.
    platform = await open_custom(LEVEL)
    try:
        deploy = deployer(platform)
        await deploy("sink", SINK)
        await deploy("doomed", SINK)
        for name, function in (("to-sink", "sink"), ("to-doomed", "doomed")):
            await platform.schedules.put(
                Schedule(name, "rate(1 minute)", target(platform, function)), create=True
            )
        await platform.functions.delete("doomed")
        clock.advance(60)
        assert await fire(platform) == 2
        assert len(await events_of(platform, "sink")) == 1
        assert [s.name for s in platform.schedules.list()] == ["to-doomed", "to-sink"]
        clock.advance(60)
        assert await fire(platform) == 2
        assert len(await events_of(platform, "sink")) == 2
    finally:
        await platform.aclose()
