"""SnapStart: a version's init runs once, in the instance that becomes its snapshot; further
instances are forked from it, each with its own state, /tmp, randomness and limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from gureum import Platform
from tests.conftest import CAN_ISOLATE, Deploy, deployer

HOOKED = """
import os, random, sys, time
from snapshot_restore_py import register_after_restore, register_before_snapshot

print("INIT ran", flush=True)
STATE = {"before": 0, "restored": 0, "order": []}

@register_before_snapshot
def first_registered():
    STATE["before"] += 1
    STATE["order"].append("first")

def second_registered():
    STATE["order"].append("second")

register_before_snapshot(second_registered)

def restored(tag):
    STATE["restored"] += 1
    STATE["tag"] = tag

register_after_restore(restored, "again")

def handler(event, context):
    if event.get("exit"):
        os._exit(event["exit"])
    time.sleep(event.get("sleep", 0))
    with open(f"/tmp/{context.aws_request_id}", "w") as f:
        f.write("mine")
    return {
        **STATE,
        "random": random.random(),
        "tmp": sorted(os.listdir("/tmp")),
        "init_type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
    }
"""


@pytest.fixture(params=["full", "process"] if CAN_ISOLATE else ["process"])
async def platform(
    request: pytest.FixtureRequest, open_custom: Callable[..., Awaitable[Platform]]
) -> AsyncIterator[Platform]:
    """The levels that fork snapshots (rootless: see the last test)."""
    p = await open_custom(request.param)
    try:
        yield p
    finally:
        await p.aclose()


@pytest.fixture
def deploy(platform: Platform) -> Deploy:
    return deployer(platform)


async def _concurrently(p: Platform, name: str, count: int, **event: Any) -> list[Any]:
    payload = json.dumps({"sleep": 0.3, **event}).encode()
    return await asyncio.gather(*(p.invoke(name, payload) for _ in range(count)))


async def test_init_runs_once_and_each_forked_instance_has_its_own_state(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy("snappy", HOOKED, snap_start="All", timeout_s=20)
    results = await _concurrently(platform, "snappy", 3)
    assert all(r.ok for r in results), [r.payload for r in results]
    seen = [json.loads(r.payload) for r in results]
    assert len(platform.engine.instances("snappy")) == 3
    # Init ran once, in the snapshot; before-snapshot hooks in reverse order of registration.
    logs = await platform.logs("snappy")
    assert sum("INIT ran" in line.message for line in logs) == 1
    for state in seen:
        assert state["before"] == 1
        assert state["order"] == ["second", "first"]
        assert state["restored"] == 1
        assert state["tag"] == "again"
        assert state["init_type"] == "snap-start"  # as Lambda says for a SnapStart version
        if platform.isolation == "full":
            assert len(state["tmp"]) == 1  # /tmp is the fork's own
    assert len({state["random"] for state in seen}) == 3  # re-seeded in every fork
    for result in results:
        assert result.cold_start
        assert result.init_duration_ms is None
        assert result.record.restore_duration_ms is not None
        assert "\tRestore Duration: " in result.logs.splitlines()[-1]
        assert "Init Duration" not in result.logs


async def test_only_published_versions_fork_with_published_versions(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy("versioned", HOOKED, snap_start="PublishedVersions", timeout_s=20)
    latest = await platform.invoke("versioned", b"{}")
    assert latest.record.restore_duration_ms is None
    assert latest.init_duration_ms is not None
    assert json.loads(latest.payload)["before"] == 0  # no snapshot was taken
    version = await platform.versions.publish("versioned")
    published = await platform.invoke("versioned", b"{}", qualifier=version.version)
    assert published.ok
    assert published.record.restore_duration_ms is not None


async def test_a_failing_before_snapshot_hook_is_an_init_error(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy(
        "refuses",
        """
        from snapshot_restore_py import register_before_snapshot

        def refuse():
            raise ConnectionError("still connected")

        register_before_snapshot(refuse)

        def handler(event, context):
            return "unreachable"
        """,
        snap_start="All",
    )
    for _ in range(2):  # and the next cold start tries again, failing the same way
        result = await platform.invoke("refuses", b"{}")
        assert result.function_error == "Unhandled"
        error = json.loads(result.payload)
        assert error["errorType"] == "ConnectionError"
        assert error["errorMessage"] == "still connected"
        assert platform.engine.instances("refuses") == []


async def test_a_fork_that_dies_is_reported_and_the_snapshot_forks_on(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy("fragile", HOOKED, snap_start="All", timeout_s=20)
    died = await platform.invoke("fragile", b'{"exit": 3}')
    error = json.loads(died.payload)
    assert error["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in error["errorMessage"]
    after = await platform.invoke("fragile", b"{}")
    assert after.ok
    assert after.record.restore_duration_ms is not None
    assert json.loads(after.payload)["before"] == 1  # the same snapshot: no second init


async def test_a_changed_function_lets_its_old_snapshot_go(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy("changing", HOOKED, snap_start="All", timeout_s=20)
    assert (await platform.invoke("changing", b"{}")).ok
    fleet = platform.engine.fleet
    [old] = list(fleet.snapshots.by_key.values())
    await platform.functions.update_configuration("changing", description="new revision")
    assert old not in fleet.snapshots.by_key.values()
    assert old.instance.sandbox.exit_status is not None  # destroyed: killed and reaped
    again = await platform.invoke("changing", b"{}")
    assert again.ok and again.record.restore_duration_ms is not None


async def test_rootless_runs_a_snapstart_function_with_plain_cold_starts(
    open_custom: Callable[..., Awaitable[Platform]],
) -> None:
    # A rootless instance has no cgroup and no host pid to hold a fork by: no snapshots there,
    # and the function works as any other.
    p = await open_custom("rootless")
    try:
        await deployer(p)("plain", HOOKED, snap_start="All", timeout_s=20)
        results = await _concurrently(p, "plain", 2)
        for result in results:
            assert result.ok, result.payload
            assert result.record.restore_duration_ms is None
            assert result.init_duration_ms is not None
            assert json.loads(result.payload)["before"] == 0
        assert p.engine.fleet.snapshots.by_key == {}
    finally:
        await p.aclose()
