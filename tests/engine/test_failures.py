"""A function's failures are results, never exceptions: Lambda's error shapes, and recovery."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from typing import Any

import pytest

from gureum import InvocationResult, Platform
from gureum.engine.instance import Instance
from gureum.errors import ResourceNotFoundException
from tests.conftest import HOST_RUNTIME, Deploy, deployer, make_zip, source

ECHO = """
    def handler(event, context):
        return event
"""

# Exits with event["exit"] when asked to, answers "fine" otherwise.
EXITS = """
    import os
    def handler(event, context):
        if "exit" in event:
            os._exit(event["exit"])
        return "fine"
"""

# Hangs (after saying so) when asked to, answers "quick" otherwise.
HANGS = """
    import time
    def handler(event, context):
        if event.get("hang"):
            print("about to hang")
            time.sleep(30)
        return "quick"
"""

KILLED = "Runtime exited with error: signal: killed"
EXIT_STATUS_1 = "Runtime exited with error: exit status 1"

# Generous: a contained fork bomb is destroyed within seconds of its 2 s timeout; only a hang
# trips this, and turns it into a failure instead of a stuck test run.
BOMB_GUARD_S = 30

FLOOD_LINE = "FLOOD" + "x" * 65530 + "\n"  # 64 KiB
FLOOD_LINES = 320  # 20 MiB in all


def error_of(result: InvocationResult) -> dict[str, Any]:
    """The error document of an invocation that must have failed."""
    assert result.function_error == "Unhandled"
    error = json.loads(result.payload)
    assert isinstance(error, dict)
    return error


def assert_platform_error(result: InvocationResult, error_type: str, message: str) -> None:
    """An error the platform reports for the function (timeout, crash): Lambda's two-key shape."""
    assert error_of(result) == {
        "errorType": error_type,
        "errorMessage": f"RequestId: {result.request_id} Error: {message}",
    }


def assert_no_runtime_frames(stack: list[str]) -> None:
    for frame in stack:
        assert "gureum" not in frame


# -- errors raised by the handler --------------------------------------------------------------


async def test_handler_exception_is_an_error_result(platform: Platform, deploy: Deploy) -> None:
    await deploy(
        "raises",
        """
        def check(event):
            if event.get("fail"):
                raise ValueError("boom")
            return "ok"

        def handler(event, context):
            return check(event)
        """,
    )
    result = await platform.invoke("raises", b'{"fail": true}')
    error = error_of(result)
    assert set(error) == {"errorType", "errorMessage", "requestId", "stackTrace"}
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "boom"
    assert error["requestId"] == result.request_id
    stack = error["stackTrace"]
    # Only the user's two frames, outermost first, as Lambda shows them.
    assert len(stack) == 2
    assert "app.py" in stack[0] and "in handler" in stack[0]
    assert (
        "app.py" in stack[1] and "in check" in stack[1] and 'raise ValueError("boom")' in stack[1]
    )
    assert_no_runtime_frames(stack)
    assert not any("bootstrap" in frame for frame in stack)

    # The instance survived its handler's exception: the next invocation is warm.
    again = await platform.invoke("raises", b"{}")
    assert again.function_error is None
    assert json.loads(again.payload) == "ok"
    assert again.cold_start is False
    stats = await platform.stats("raises")
    assert stats.invocations == 2 and stats.errors == 1


# -- init errors -------------------------------------------------------------------------------


async def test_missing_module_is_an_import_module_error(platform: Platform, deploy: Deploy) -> None:
    await deploy("nomodule", ECHO, handler="nope.handler")
    result = await platform.invoke("nomodule", b"{}")
    assert result.cold_start is True
    error = error_of(result)
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"] == "Unable to import module 'nope': No module named 'nope'"
    assert error["stackTrace"] == []


async def test_users_own_import_error_is_shown_as_is(platform: Platform, deploy: Deploy) -> None:
    await deploy(
        "baddep",
        """
        import not_an_installed_dependency

        def handler(event, context):
            return 1
        """,
    )
    error = error_of(await platform.invoke("baddep", b"{}"))
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"] == (
        "Unable to import module 'app': No module named 'not_an_installed_dependency'"
    )


async def test_missing_handler_function_is_handler_not_found(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy("nohandler", "def other(event, context):\n    return 1\n")
    error = error_of(await platform.invoke("nohandler", b"{}"))
    assert error["errorType"] == "Runtime.HandlerNotFound"
    assert error["errorMessage"] == "Handler 'handler' missing on module 'app'"


async def test_syntax_error_is_user_code_syntax_error(platform: Platform, deploy: Deploy) -> None:
    await deploy("syntax", "def handler(event, context)\n    return 1\n")
    error = error_of(await platform.invoke("syntax", b"{}"))
    assert error["errorType"] == "Runtime.UserCodeSyntaxError"
    assert error["errorMessage"].startswith("Syntax error in module 'app': ")
    assert error["errorMessage"].endswith("(app.py, line 1)")
    # Lambda points at the offending line, not at the import machinery that compiled it.
    (frame,) = error["stackTrace"]
    assert re.search(r"app\.py.*[Ll]ine 1", frame)
    assert "def handler(event, context)" in frame


async def test_exception_during_init_keeps_the_users_type(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy(
        "badinit",
        """
        raise RuntimeError("bad init")

        def handler(event, context):
            return 1
        """,
    )
    result = await platform.invoke("badinit", b"{}")
    assert result.cold_start is True
    error = error_of(result)
    assert error["errorType"] == "RuntimeError"
    assert error["errorMessage"] == "bad init"
    stack = error["stackTrace"]
    assert "app.py" in stack[-1] and 'raise RuntimeError("bad init")' in stack[-1]
    assert_no_runtime_frames(stack)

    # A failed init leaves no instance: every invocation tries it again, and fails the same way.
    assert platform.engine.instances("badinit") == []
    again = await platform.invoke("badinit", b"{}")
    assert again.cold_start is True
    assert error_of(again)["errorMessage"] == "bad init"


async def test_fixed_redeploy_after_an_init_error_works(platform: Platform, deploy: Deploy) -> None:
    await deploy("fixme", "import missing_dependency\n")
    broken = await platform.invoke("fixme", b"{}")
    assert error_of(broken)["errorType"] == "Runtime.ImportModuleError"
    fixed = make_zip({"app.py": source(ECHO)})
    await platform.functions.update_code("fixme", fixed)
    result = await platform.invoke("fixme", b'{"fixed": true}')
    assert result.function_error is None
    assert json.loads(result.payload) == {"fixed": True}
    assert result.cold_start is True


# -- marshalling -------------------------------------------------------------------------------


async def test_unserialisable_result_is_a_marshal_error(platform: Platform, deploy: Deploy) -> None:
    await deploy(
        "marshal",
        """
        def handler(event, context):
            return set() if event.get("set") else "fine"
        """,
    )
    result = await platform.invoke("marshal", b'{"set": true}')
    error = error_of(result)
    assert error["errorType"] == "Runtime.MarshalError"
    assert error["errorMessage"] == (
        "Unable to marshal response: Object of type set is not JSON serializable"
    )
    assert error["requestId"] == result.request_id
    assert error["stackTrace"] == []
    again = await platform.invoke("marshal", b"{}")
    assert json.loads(again.payload) == "fine"
    assert again.cold_start is False


async def test_invalid_json_payload_is_an_unmarshal_error(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy(
        "unmarshal",
        """
        def handler(event, context):
            print("handler ran")
            return event
        """,
    )
    result = await platform.invoke("unmarshal", b"{not json")
    error = error_of(result)
    assert error["errorType"] == "Runtime.UnmarshalError"
    assert error["errorMessage"].startswith("Unable to unmarshal input: ")
    assert error["requestId"] == result.request_id
    assert error["stackTrace"] == []
    assert "handler ran" not in result.logs
    again = await platform.invoke("unmarshal", b'{"a": 1}')
    assert json.loads(again.payload) == {"a": 1}
    assert again.cold_start is False


# -- timeouts ----------------------------------------------------------------------------------


async def test_timeout_is_reported_and_the_instance_replaced(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy("hangs", HANGS, timeout_s=1)
    result = await platform.invoke("hangs", b'{"hang": true}')
    assert_platform_error(result, "Sandbox.Timedout", "Task timed out after 1.00 seconds")
    rid = result.request_id
    lines = result.logs.splitlines()
    assert any(rid in line and line.endswith("Task timed out after 1.00 seconds") for line in lines)
    assert lines[-2] == f"END RequestId: {rid}"
    stored = [line.message for line in await platform.logs("hangs", request_id=rid)]
    assert stored == lines

    # The hung instance is gone; the next invocation starts a fresh one.
    assert platform.engine.instances("hangs") == []
    again = await platform.invoke("hangs", b"{}")
    assert again.function_error is None
    assert json.loads(again.payload) == "quick"
    assert again.cold_start is True


async def test_output_before_a_timeout_is_in_its_logs(platform: Platform, deploy: Deploy) -> None:
    await deploy("hangs", HANGS, timeout_s=1)
    result = await platform.invoke("hangs", b'{"hang": true}')
    assert error_of(result)["errorType"] == "Sandbox.Timedout"
    lines = result.logs.splitlines()
    assert "about to hang" in lines
    assert lines.index("about to hang") < next(
        i for i, line in enumerate(lines) if "Task timed out" in line
    )


# -- crashes -----------------------------------------------------------------------------------


async def test_exit_is_an_exit_error_and_the_next_invoke_works(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy("exits", EXITS)
    result = await platform.invoke("exits", b'{"exit": 3}')
    assert_platform_error(result, "Runtime.ExitError", "Runtime exited with error: exit status 3")
    assert platform.engine.instances("exits") == []
    again = await platform.invoke("exits", b"{}")
    assert json.loads(again.payload) == "fine"
    assert again.cold_start is True


async def test_sigkill_is_an_exit_error(platform: Platform, deploy: Deploy) -> None:
    await deploy(
        "killed",
        """
        import os, signal
        def handler(event, context):
            if event.get("die"):
                os.kill(os.getpid(), signal.SIGKILL)
            return "still alive"
        """,
    )
    result = await platform.invoke("killed", b'{"die": true}')
    assert_platform_error(result, "Runtime.ExitError", KILLED)
    again = await platform.invoke("killed", b"{}")
    assert json.loads(again.payload) == "still alive"
    assert again.cold_start is True


async def test_abort_is_an_exit_error_with_signal_aborted(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy(
        "aborts",
        """
        import os
        def handler(event, context):
            if event.get("abort"):
                os.abort()
            return "fine"
        """,
    )
    result = await platform.invoke("aborts", b'{"abort": true}')
    assert_platform_error(result, "Runtime.ExitError", "Runtime exited with error: signal: aborted")
    again = await platform.invoke("aborts", b"{}")
    assert json.loads(again.payload) == "fine"
    assert again.cold_start is True


async def test_closing_the_channel_is_an_exit_error(platform: Platform, deploy: Deploy) -> None:
    await deploy(
        "closes",
        """
        import os
        def handler(event, context):
            if event.get("close"):
                os.close(3)
            return "fine"
        """,
    )
    result = await platform.invoke("closes", b'{"close": true}')
    error = error_of(result)
    assert set(error) == {"errorType", "errorMessage"}
    assert error["errorType"] == "Runtime.ExitError"
    prefix = f"RequestId: {result.request_id} Error: Runtime exited with error: "
    assert error["errorMessage"].startswith(prefix)
    again = await platform.invoke("closes", b"{}")
    assert json.loads(again.payload) == "fine"
    assert again.cold_start is True


async def test_one_functions_crashes_never_hurt_another(platform: Platform, deploy: Deploy) -> None:
    await deploy("exits", EXITS)
    await deploy("echo", ECHO)
    crashes = [platform.invoke("exits", b'{"exit": 1}') for _ in range(4)]
    echoes = [platform.invoke("echo", json.dumps({"n": n}).encode()) for n in range(8)]
    results = await asyncio.gather(*crashes, *echoes)
    for crashed in results[:4]:
        assert_platform_error(
            crashed, "Runtime.ExitError", "Runtime exited with error: exit status 1"
        )
    for n, echoed in enumerate(results[4:]):
        assert echoed.function_error is None
        assert json.loads(echoed.payload) == {"n": n}


async def test_invoking_a_missing_function_raises(platform: Platform) -> None:
    arn = "arn:aws:lambda:us-east-1:000000000000:function:missing"
    with pytest.raises(ResourceNotFoundException, match=f"Function not found: {arn}"):
        await platform.invoke("missing", b"{}")


# -- output ------------------------------------------------------------------------------------


async def test_output_flood_is_capped(platform: Platform, deploy: Deploy) -> None:
    await deploy(
        "flood",
        f"""
        import sys
        def handler(event, context):
            if event.get("flood"):
                for _ in range({FLOOD_LINES}):
                    sys.stdout.write({FLOOD_LINE!r})
            else:
                print("quiet")
            return "done"
        """,
        memory_mb=1024,
        timeout_s=30,
    )
    result = await platform.invoke("flood", b'{"flood": true}')
    assert result.function_error is None
    assert json.loads(result.payload) == "done"
    assert len(result.logs.encode()) <= 1.1 * 1024 * 1024
    dropped = re.search(r"^\[gureum\] (\d+) bytes of output dropped", result.logs, re.MULTILINE)
    assert dropped is not None
    written = FLOOD_LINES * len(FLOOD_LINE)
    assert written - 1024 * 1024 <= int(dropped.group(1)) < written
    lines = result.logs.splitlines()
    assert lines[0].startswith(f"START RequestId: {result.request_id}")
    assert lines[-2] == f"END RequestId: {result.request_id}"

    # Nothing of the flood spills over into the next invocation's logs.
    again = await platform.invoke("flood", b"{}")
    assert again.cold_start is False
    assert "quiet" in again.logs.splitlines()
    assert "FLOOD" not in again.logs
    assert "bytes of output dropped" not in again.logs


# -- resource exhaustion (only the `full` level enforces limits) --------------------------------


async def test_out_of_memory_is_reported(isolated_platform: Platform) -> None:
    deploy = deployer(isolated_platform)
    await deploy(
        "hog",
        """
        def handler(event, context):
            if event.get("hog"):
                return len(b"x" * (512 * 1024 * 1024))
            return "fine"
        """,
        memory_mb=128,
    )
    await deploy("echo", ECHO)
    result = await isolated_platform.invoke("hog", b'{"hog": true}')
    assert_platform_error(result, "Runtime.OutOfMemory", KILLED)
    assert result.max_memory_used_mb == 128

    echoed = await isolated_platform.invoke("echo", b'{"still": "here"}')
    assert json.loads(echoed.payload) == {"still": "here"}
    again = await isolated_platform.invoke("hog", b"{}")
    assert json.loads(again.payload) == "fine"
    assert again.cold_start is True


def _cgroup_name(instance: Instance) -> str:
    assert instance.sandbox.cgroup is not None
    return instance.sandbox.cgroup.directories[0].name


def _instance_cgroups(platform: Platform) -> set[str]:
    """Names of the platform's instance (and shell) cgroup directories: all below its own."""
    assert platform.sandboxes.cgroups is not None
    bases = platform.sandboxes.cgroups.bases.values()
    return {entry.name for base in bases for entry in base.iterdir() if entry.is_dir()}


def _cgroups_with_processes(platform: Platform) -> set[str]:
    """Names of the platform's cgroups that some live process belongs to."""
    assert platform.sandboxes.cgroups is not None
    own = next(iter(platform.sandboxes.cgroups.bases.values())).name  # gureum's pid
    pattern = re.compile(rf"/gureum/{own}/([^/]+)$")
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cgroup") as memberships:
                for line in memberships:
                    match = pattern.search(line.strip())
                    if match:
                        found.add(match.group(1))
        except OSError:
            continue  # exited while we looked
    return found


def _lift_cpu_quotas(platform: Platform) -> None:
    assert platform.sandboxes.cgroups is not None
    for base in platform.sandboxes.cgroups.bases.values():
        for directory in base.iterdir():
            for name, unlimited in (("cpu.cfs_quota_us", "-1"), ("cpu.max", "max")):
                with contextlib.suppress(OSError):
                    (directory / name).write_text(unlimited)


async def test_fork_bomb_is_contained_and_cleaned_up(isolated_platform: Platform) -> None:
    deploy = deployer(isolated_platform)
    await deploy(
        "bomb",
        """
        import os
        def handler(event, context):
            while True:
                try:
                    os.fork()  # children run the same loop
                except OSError:
                    pass
        """,
        timeout_s=2,
    )
    await deploy("echo", ECHO)
    before = await isolated_platform.invoke("echo", b'{"before": 1}')
    assert json.loads(before.payload) == {"before": 1}
    (echo_instance,) = isolated_platform.engine.instances("echo")

    bomb = asyncio.create_task(isolated_platform.invoke("bomb", b"{}"))
    try:
        during = await isolated_platform.invoke("echo", b'{"during": 1}')
        assert json.loads(during.payload) == {"during": 1}
        async with asyncio.timeout(BOMB_GUARD_S):
            bombed = await asyncio.shield(bomb)
    except TimeoutError:
        pytest.fail("the fork bomb's instance was still not destroyed after its timeout")
    finally:
        if not bomb.done():
            # Killed processes that stay throttled never exit, and would outlive the test run.
            _lift_cpu_quotas(isolated_platform)
            with contextlib.suppress(Exception):
                await bomb
    assert error_of(bombed)["errorType"] in {
        "Sandbox.Timedout",
        "Runtime.ExitError",
        "Runtime.OutOfMemory",
    }
    after = await isolated_platform.invoke("echo", b'{"after": 1}')
    assert after.function_error is None
    assert json.loads(after.payload) == {"after": 1}

    # The bomb's instance is destroyed: its cgroups are gone and no process of it remains.
    assert isolated_platform.engine.instances("bomb") == []
    assert isolated_platform.engine.instances("echo") == [echo_instance]
    # What is left: the echo instance, and the shells kept ready for the next cold starts.
    async with asyncio.timeout(BOMB_GUARD_S):
        await isolated_platform.sandboxes.settle()
    shells = isolated_platform.sandboxes.shells.get(HOST_RUNTIME)
    expected = {_cgroup_name(echo_instance)}
    expected |= {s.cgroup.directories[0].name for s in shells.idle if s.cgroup} if shells else set()
    assert _instance_cgroups(isolated_platform) == expected
    assert _cgroups_with_processes(isolated_platform) == expected


async def test_forged_frames_end_only_the_forging_instance(
    platform: Platform, deploy: Deploy
) -> None:
    """Function code can write to its channel (fd 3): nothing it writes escapes as an exception."""
    await deploy(
        "forger",
        """
        import json, os, struct
        def frame(kind, meta, body=b""):
            raw = json.dumps(meta).encode()
            return struct.pack("!BII", kind, len(raw), len(body)) + raw + body
        def handler(event, context):
            forged = {
                "not-an-object": frame(4, ["x"]),
                "wrong-request": frame(4, {"id": "someone-else", "maxrss_kb": 1}, b"1"),
                "bad-memory": frame(4, {"id": context.aws_request_id, "maxrss_kb": "lots"}, b"2"),
            }[event["how"]]
            os.write(3, forged)
            import time
            time.sleep(5)
        """,
        timeout_s=10,
    )
    for how in ("not-an-object", "wrong-request"):
        result = await platform.invoke("forger", json.dumps({"how": how}).encode())
        assert result.function_error == "Unhandled", how
        assert json.loads(result.payload)["errorType"] == "Runtime.ExitError", how
    # A reply with this request's id is the reply, whatever the memory figure says.
    result = await platform.invoke("forger", json.dumps({"how": "bad-memory"}).encode())
    assert result.payload == b"2" and result.max_memory_used_mb == 0
    assert platform.engine.admission.memory_used_mb == sum(
        i.config.memory_mb for i in platform.engine.instances("forger")
    )


async def test_a_cancelled_cold_start_leaves_nothing_behind(
    platform: Platform, deploy: Deploy
) -> None:
    await deploy(
        "slow-init",
        """
        import time
        time.sleep(2)
        def handler(event, context):
            return 1
        """,
    )
    # Given up on while starting (most likely during its init's sleep; wherever it lands, the
    # invariant below must hold).
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(platform.invoke("slow-init", b"{}"), 0.5)
    assert platform.engine.instances("slow-init") == []
    assert platform.engine.admission.memory_used_mb == 0
    assert platform.engine.admission.unreserved_active == 0
