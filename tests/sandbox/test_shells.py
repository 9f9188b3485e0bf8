"""Pre-isolated shells: sandboxes made ahead of any function, handed one at its cold start."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Awaitable, Callable

import pytest

from gureum import Platform
from gureum.clock import ManualClock
from gureum.sandbox.shells import MIN_SHELLS, WINDOW_S
from tests.conftest import CAN_ISOLATE, HOST_RUNTIME, deployer

MB = 1024 * 1024

PROBE = """
import json, os

def _listing(path):
    try:
        return os.listdir(path)
    except OSError as exc:
        return type(exc).__name__


def handler(event, context):
    tmp = os.statvfs("/tmp")
    return {
        "uid": os.getuid(),
        "tmp_bytes": tmp.f_blocks * tmp.f_frsize,
        "tmp_files": os.listdir("/tmp"),
        "task": sorted(os.listdir(os.environ["LAMBDA_TASK_ROOT"])),
        "code_cache": _listing("/.code"),
        "memory_env": os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"],
        "name": context.function_name,
        "cwd": os.getcwd(),
        "oom_score_adj": open("/proc/self/oom_score_adj").read().strip(),
    }
"""


def _levels() -> list[str]:
    return ["full", "process"] if CAN_ISOLATE else ["process"]


@pytest.fixture(params=_levels())
async def warm_platform(
    request: pytest.FixtureRequest, open_custom: Callable[..., Awaitable[Platform]]
) -> Platform:
    p = await open_custom(request.param)
    await p.sandboxes.warm(HOST_RUNTIME)
    return p


async def test_a_cold_start_takes_a_ready_shell_and_it_becomes_the_function(
    warm_platform: Platform,
) -> None:
    p = warm_platform
    try:
        shell = p.sandboxes.shells[HOST_RUNTIME].idle[0]
        await deployer(p)("shaped", PROBE, memory_mb=256, ephemeral_storage_mb=700)
        result = await p.invoke("shaped")
        assert result.ok, result.payload
        seen = json.loads(result.payload)
        [instance] = p.engine.instances("shaped")
        assert instance.sandbox is shell
        assert seen["memory_env"] == "256"
        assert seen["name"] == "shaped"
        assert "app.py" in seen["task"]
        # Memory is overcommitted: the host's OOM killer takes instances before anything else.
        assert seen["oom_score_adj"] == "1000"
        if p.isolation == "full":
            assert seen["uid"] == 993
            assert seen["tmp_bytes"] == 700 * MB
            assert seen["tmp_files"] == []
            # The code cache's mount point is left, empty (and root's): no function's code.
            assert seen["code_cache"] in ([], "PermissionError")
            assert seen["cwd"] == "/var/task"
            assert shell.cgroup is not None
            name = "memory.max" if shell.cgroup.unified else "memory.limit_in_bytes"
            limit = (shell.cgroup.directories[0] / name).read_text()
            assert int(limit) == 256 * MB
    finally:
        await p.aclose()


async def test_the_pool_follows_demand_and_shrinks_back_when_it_ends(
    open_custom: Callable[..., Awaitable[Platform]], clock: ManualClock
) -> None:
    p = await open_custom("process")
    try:
        await p.sandboxes.warm(HOST_RUNTIME)
        pool = p.sandboxes.shells[HOST_RUNTIME]
        assert len(pool.idle) == MIN_SHELLS
        deploy = deployer(p)
        for n in range(4):
            await deploy(f"f{n}", "def handler(event, context):\n    return 1\n")
            assert (await p.invoke(f"f{n}")).ok
        await p.sandboxes.settle_shells()
        # Four cold starts within the window: four shells kept ready for what comes next.
        assert pool.target() == 4
        assert len(pool.idle) == 4
        clock.advance(WINDOW_S + 1)
        assert pool.target() == MIN_SHELLS
    finally:
        await p.aclose()


async def test_a_shell_that_died_while_idle_is_passed_over(warm_platform: Platform) -> None:
    p = warm_platform
    try:
        pool = p.sandboxes.shells[HOST_RUNTIME]
        dead = pool.idle[0]
        os.kill(dead.pid, signal.SIGKILL)
        await p.sandboxes.wait_exit(dead)
        await deployer(p)("after", "def handler(event, context):\n    return 'fine'\n")
        result = await p.invoke("after")
        assert result.ok and json.loads(result.payload) == "fine"
        [instance] = p.engine.instances("after")
        assert instance.sandbox is not dead
    finally:
        await p.aclose()


async def test_closing_the_platform_stops_its_idle_shells(warm_platform: Platform) -> None:
    p = warm_platform
    shells = list(p.sandboxes.shells[HOST_RUNTIME].idle)
    assert shells
    await p.aclose()
    for shell in shells:
        assert shell.exit_status is not None  # destroyed: killed and reaped
        with pytest.raises(ProcessLookupError):
            os.kill(shell.pid, 0)


async def test_a_shell_born_instance_honours_its_functions_log_level(
    warm_platform: Platform,
) -> None:
    # The shell set logging up before it had a function: the level is the function's anyway.
    p = warm_platform
    try:
        shell = p.sandboxes.shells[HOST_RUNTIME].idle[0]
        await deployer(p)(
            "leveled",
            """
import logging

def handler(event, context):
    logging.getLogger().info("quiet info")
    logging.getLogger().error("loud error")
    return "ok"
""",
            env={"AWS_LAMBDA_LOG_LEVEL": "ERROR"},
        )
        result = await p.invoke("leveled")
        assert result.ok
        [instance] = p.engine.instances("leveled")
        assert instance.sandbox is shell
        assert "loud error" in result.logs
        assert "quiet info" not in result.logs
    finally:
        await p.aclose()
