"""Scaling on one node: concurrent instances, reservations and throttles, keep-alive, eviction
under the memory budget, and the admission counters staying true through all of it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from gureum import Platform
from gureum.clock import ManualClock
from gureum.engine.instance import Instance
from gureum.errors import ResourceNotFoundException, TooManyRequestsException
from gureum.types import InvocationResult
from tests.conftest import deployer

Opener = Callable[..., Awaitable[Platform]]

PROBE = """
    import os, time, uuid
    INSTANCE = uuid.uuid4().hex  # set once per instance, at init
    def handler(event, context):
        time.sleep(event.get("sleep", 0))
        return {"instance": INSTANCE, "pid": os.getpid(), "stage": os.environ.get("STAGE")}
"""

RESERVED_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"
NODE_LIMIT = "ConcurrentInvocationLimitExceeded"


async def invoke(platform: Platform, name: str, **event: Any) -> InvocationResult:
    return await platform.invoke(name, json.dumps(event).encode())


async def probe(platform: Platform, name: str, **event: Any) -> tuple[dict[str, Any], bool]:
    """Invoke the PROBE function ``name``; returns its result and whether it was a cold start."""
    result = await invoke(platform, name, **event)
    assert result.function_error is None, result.payload.decode()
    return json.loads(result.payload), result.cold_start


def live_instances(platform: Platform) -> list[Instance]:
    return [i for pool in platform.engine.fleet.pools.values() for i in (*pool.idle, *pool.busy)]


def assert_settled(platform: Platform) -> None:
    """Nothing runs: no admission is still counted, and memory is what live instances hold."""
    admission = platform.engine.admission
    assert admission.unreserved_active == 0
    assert {name: n for name, n in admission.active.items() if n} == {}
    assert admission.memory_used_mb == sum(i.config.memory_mb for i in live_instances(platform))


def throttles(outcomes: list[Any]) -> list[str]:
    """The reasons of the throttles among gathered outcomes; any other error is re-raised."""
    reasons = []
    for outcome in outcomes:
        if isinstance(outcome, TooManyRequestsException):
            reasons.append(outcome.reason)
        elif isinstance(outcome, BaseException):
            raise outcome
    return reasons


async def test_concurrent_invokes_get_instances_of_their_own_then_reuse_them(
    open_custom: Opener, isolation: str
) -> None:
    platform = await open_custom(isolation=isolation)
    try:
        await deployer(platform)("par", PROBE)
        first = await asyncio.gather(*(probe(platform, "par", sleep=0.5) for _ in range(5)))
        instances = {got["instance"] for got, _ in first}
        assert len(instances) == 5
        assert all(cold for _, cold in first)
        if isolation == "process":
            assert len({got["pid"] for got, _ in first}) == 5
        assert len(platform.engine.instances("par")) == 5

        again = [await probe(platform, "par") for _ in range(5)]
        assert not any(cold for _, cold in again)
        assert {got["instance"] for got, _ in again} <= instances
        assert len(platform.engine.instances("par")) == 5
        assert_settled(platform)
    finally:
        await platform.aclose()


async def test_reserved_concurrency_caps_the_function(open_custom: Opener) -> None:
    platform = await open_custom()
    try:
        deploy = deployer(platform)
        await deploy("one", PROBE, reserved_concurrency=1)
        outcomes = await asyncio.gather(
            probe(platform, "one", sleep=0.3),
            probe(platform, "one", sleep=0.3),
            return_exceptions=True,
        )
        assert throttles(outcomes) == [RESERVED_LIMIT]
        assert len(platform.engine.instances("one")) == 1
        # Once the first is done, the next one is admitted.
        await probe(platform, "one")

        await deploy("none", PROBE, reserved_concurrency=0)
        for _ in range(2):
            with pytest.raises(TooManyRequestsException) as caught:
                await invoke(platform, "none")
            assert caught.value.reason == RESERVED_LIMIT
        assert platform.engine.instances("none") == []
        await platform.functions.set_reserved_concurrency("none", None)
        await probe(platform, "none")
        assert_settled(platform)
    finally:
        await platform.aclose()


async def test_node_concurrency_limit_throttles_unreserved_functions(open_custom: Opener) -> None:
    platform = await open_custom(max_concurrency=2)
    try:
        deploy = deployer(platform)
        await deploy("f", PROBE)
        await deploy("g", PROBE)
        outcomes = await asyncio.gather(
            probe(platform, "f", sleep=0.3),
            probe(platform, "g", sleep=0.3),
            probe(platform, "f", sleep=0.3),
            return_exceptions=True,
        )
        assert throttles(outcomes) == [NODE_LIMIT]
        assert_settled(platform)

        # A reservation comes out of the unreserved pool: 2 - 1 leaves room for one at a time.
        await deploy("r", PROBE, reserved_concurrency=1)
        outcomes = await asyncio.gather(
            probe(platform, "f", sleep=0.3),
            probe(platform, "g", sleep=0.3),
            probe(platform, "r", sleep=0.3),
            return_exceptions=True,
        )
        assert throttles(outcomes) == [NODE_LIMIT]
        assert not isinstance(outcomes[2], BaseException)
        assert_settled(platform)
    finally:
        await platform.aclose()


async def test_idle_instances_are_reclaimed_after_the_keep_alive(
    open_custom: Opener, clock: ManualClock, isolation: str
) -> None:
    platform = await open_custom(isolation=isolation, keep_alive_s=600)
    try:
        await deployer(platform)("nap", PROBE)
        got, cold = await probe(platform, "nap")
        assert cold
        (instance,) = platform.engine.instances("nap")

        clock.advance(599)
        assert await platform.engine.reap_idle() == 0
        assert platform.engine.instances("nap") == [instance]
        assert instance.sandbox.exit_status is None

        clock.advance(2)
        assert await platform.engine.reap_idle() == 1
        assert platform.engine.instances("nap") == []
        assert instance.sandbox.exit_status is not None  # the process is gone, not just forgotten
        assert_settled(platform)

        again, cold = await probe(platform, "nap")
        assert cold
        assert again["instance"] != got["instance"]
    finally:
        await platform.aclose()


async def test_memory_budget_evicts_the_least_recently_used(
    open_custom: Opener, clock: ManualClock
) -> None:
    platform = await open_custom(memory_budget_mb=256)
    try:
        deploy = deployer(platform)
        for name in ("a", "b", "c"):
            await deploy(name, PROBE, memory_mb=128)

        def warm() -> set[str]:
            return {name for name in ("a", "b", "c") if platform.engine.instances(name)}

        await probe(platform, "a")
        clock.advance(1)
        await probe(platform, "b")
        clock.advance(1)
        _, cold = await probe(platform, "c")
        assert cold
        assert warm() == {"b", "c"}

        # Using b makes c the least recently used: a's return evicts c, not b.
        clock.advance(1)
        _, cold = await probe(platform, "b")
        assert not cold
        clock.advance(1)
        _, cold = await probe(platform, "a")
        assert cold
        assert warm() == {"a", "b"}
        assert platform.engine.admission.memory_used_mb == 256
        assert_settled(platform)
    finally:
        await platform.aclose()


async def test_function_larger_than_the_budget_is_refused_without_evicting(
    open_custom: Opener,
) -> None:
    platform = await open_custom(memory_budget_mb=256)
    try:
        deploy = deployer(platform)
        await deploy("small", PROBE, memory_mb=128)
        await deploy("huge", PROBE, memory_mb=512)
        await probe(platform, "small")
        (small,) = platform.engine.instances("small")

        with pytest.raises(TooManyRequestsException):
            await invoke(platform, "huge")
        assert platform.engine.instances("huge") == []
        # Evicting could never have made room for it, so the warm instance was left alone.
        assert platform.engine.instances("small") == [small]
        assert small.sandbox.exit_status is None
        assert_settled(platform)
    finally:
        await platform.aclose()


async def test_update_retires_old_instances_and_delete_stops_them(open_custom: Opener) -> None:
    platform = await open_custom()
    try:
        deploy = deployer(platform)
        await deploy("conf", PROBE, env={"STAGE": "one"})
        got, _ = await probe(platform, "conf")
        assert got["stage"] == "one"
        (old,) = platform.engine.instances("conf")

        await platform.functions.update_configuration("conf", env={"STAGE": "two"})
        assert platform.engine.instances("conf") == []
        assert old.sandbox.exit_status is not None
        got, cold = await probe(platform, "conf")
        assert cold
        assert got["stage"] == "two"
        assert_settled(platform)

        (current,) = platform.engine.instances("conf")
        await platform.functions.delete("conf")
        assert platform.engine.instances("conf") == []
        assert current.sandbox.exit_status is not None
        with pytest.raises(ResourceNotFoundException):
            await invoke(platform, "conf")
        assert_settled(platform)
    finally:
        await platform.aclose()


async def test_throttles_and_failures_leave_the_counters_right(open_custom: Opener) -> None:
    platform = await open_custom(max_concurrency=10, memory_budget_mb=1024)
    try:
        deploy = deployer(platform)
        await deploy("slow", PROBE, reserved_concurrency=1)
        await deploy("zero", PROBE, reserved_concurrency=0)
        await deploy("big", PROBE, memory_mb=2048)
        await deploy("boom", "raise RuntimeError('init fails')\ndef handler(e, c):\n    return 1\n")
        await deploy("crash", "import os\ndef handler(e, c):\n    os._exit(3)\n")
        await deploy("late", PROBE, timeout_s=1)
        await deploy("ok", PROBE)

        # Refusals first, while no instance is idle (a refused cold start may evict them).
        for name in ("zero", "big"):
            with pytest.raises(TooManyRequestsException):
                await invoke(platform, name)
        outcomes = await asyncio.gather(
            probe(platform, "slow", sleep=0.3),
            probe(platform, "slow", sleep=0.3),
            return_exceptions=True,
        )
        assert throttles(outcomes) == [RESERVED_LIMIT]
        for name, error_type in (
            ("boom", "RuntimeError"),
            ("crash", "Runtime.ExitError"),
            ("late", "Sandbox.Timedout"),
        ):
            result = await invoke(platform, name, sleep=5)
            assert result.function_error == "Unhandled"
            assert json.loads(result.payload)["errorType"] == error_type
            assert platform.engine.instances(name) == []
        assert_settled(platform)

        _, cold = await probe(platform, "ok")
        assert cold
        assert {i.config.name for i in live_instances(platform)} == {"slow", "ok"}
        assert platform.engine.admission.memory_used_mb == 256
        assert_settled(platform)
    finally:
        await platform.aclose()


async def test_reaping_never_stops_an_instance_an_invoke_has_taken(
    open_custom: Opener, clock: ManualClock
) -> None:
    platform = await open_custom(keep_alive_s=600)
    try:
        await deployer(platform)("race", PROBE)
        await probe(platform, "race")
        clock.advance(601)
        # The reaper picks the expired instance, and an invoke arriving at that moment takes it
        # from the idle list before the reaper's stop runs.
        _, result = await asyncio.gather(platform.engine.reap_idle(), invoke(platform, "race"))
        assert result.function_error is None, result.payload.decode()
        assert_settled(platform)
        await probe(platform, "race")
        assert_settled(platform)
    finally:
        await platform.aclose()


async def test_eviction_never_stops_an_instance_an_invoke_has_taken(
    open_custom: Opener, clock: ManualClock
) -> None:
    platform = await open_custom(memory_budget_mb=256)
    try:
        deploy = deployer(platform)
        for name in ("a", "b", "c"):
            await deploy(name, PROBE, memory_mb=128)
        await probe(platform, "a")
        clock.advance(1)
        await probe(platform, "b")
        clock.advance(1)
        # c's cold start picks a (least recently used) to evict, while an invoke of a takes it.
        outcomes = await asyncio.gather(
            invoke(platform, "c"), invoke(platform, "a"), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, InvocationResult):
                assert outcome.function_error is None, outcome.payload.decode()
            else:
                assert isinstance(outcome, TooManyRequestsException)
        assert_settled(platform)
        assert platform.engine.admission.memory_used_mb <= 256
    finally:
        await platform.aclose()


async def test_a_burst_of_cold_starts_all_succeed(open_custom: Opener) -> None:
    """More simultaneous spawn requests than the zygote's socket buffers at once: they queue."""
    platform = await open_custom(memory_budget_mb=1_000_000)
    try:
        await deployer(platform)("burst", PROBE)
        results = await asyncio.gather(*(probe(platform, "burst") for _ in range(300)))
        assert len({got["instance"] for got, _ in results}) == 300
        assert all(cold for _, cold in results)
        assert_settled(platform)
    finally:
        await platform.aclose()


async def test_provisioned_instances_outlive_the_keep_alive(
    open_custom: Opener, clock: ManualClock
) -> None:
    platform = await open_custom(keep_alive_s=600)
    try:
        await deployer(platform)("steady", PROBE)
        await platform.versions.publish("steady")
        described = await platform.provisioning.put("steady", "1", 2)
        assert described["Status"] == "READY"
        assert len(platform.engine.instances("steady")) == 2
        _, cold = await probe_version(platform, "steady", "1")
        assert not cold
        # A third, on-demand instance beside them is reclaimed; the provisioned two are not.
        await asyncio.gather(*(probe_version(platform, "steady", "1", sleep=0.3) for _ in range(3)))
        assert len(platform.engine.instances("steady")) == 3
        clock.advance(601)
        assert await platform.engine.reap_idle() == 1
        assert len(platform.engine.instances("steady")) == 2
        assert_settled(platform)
    finally:
        await platform.aclose()


async def probe_version(
    platform: Platform, name: str, version: str, **event: Any
) -> tuple[dict[str, Any], bool]:
    result = await platform.invoke(name, json.dumps(event).encode(), qualifier=version)
    assert result.function_error is None, result.payload.decode()
    return json.loads(result.payload), result.cold_start
