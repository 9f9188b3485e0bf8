"""`gureum schedules add|ls|rm`, run as the installed command against a real `gureum serve`."""

from __future__ import annotations

import json
import time

import pytest

from tests.cli.test_remote import gureum, ok, write
from tests.gateway.conftest import unique


@pytest.fixture(scope="module")
def target(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    name = unique("tick")
    folder = write(
        tmp_path_factory.mktemp("tick"), {"app.py": "def handler(e, c):\n    return e\n"}
    )
    ok(gureum(env, "deploy", str(folder), "--name", name))
    return name


def test_add_ls_rm(env: dict[str, str], target: str) -> None:
    added = ok(
        gureum(
            env,
            "schedules",
            "add",
            "hourly",
            "cron(0 * * * ? *)",
            "--function",
            target,
            "--group",
            "cli",
            "--catch-up",
            "skip",
            "--json",
        )
    )
    schedule = json.loads(added.stdout)
    now = time.time()
    assert now < schedule["nextFire"] <= now + 3600
    assert schedule["catchUp"] == "skip"

    table = ok(gureum(env, "schedules", "ls", "--group", "cli")).stdout
    assert "hourly" in table and "cron(0 * * * ? *)" in table and target in table
    # The next fire time shown is the top of the next hour, in UTC.
    shown = time.strftime("%Y-%m-%d %H:00:00", time.gmtime(schedule["nextFire"]))
    assert shown in table

    listed = json.loads(ok(gureum(env, "schedules", "ls", "--json")).stdout)
    assert [(s["group"], s["name"]) for s in listed["schedules"]] == [("cli", "hourly")]

    assert ok(gureum(env, "schedules", "rm", "hourly", "--group", "cli")).stdout.strip() == (
        "deleted cli/hourly"
    )
    assert json.loads(ok(gureum(env, "schedules", "ls", "--json")).stdout) == {"schedules": []}


def test_a_disabled_schedule_in_a_time_zone(env: dict[str, str], target: str) -> None:
    ok(
        gureum(
            env,
            "schedules",
            "add",
            "seoul-noon",
            "cron(0 12 * * ? *)",
            "-f",
            target,
            "--timezone",
            "Asia/Seoul",
            "--disabled",
        )
    )
    try:
        table = ok(gureum(env, "schedules", "ls")).stdout
        row = next(line for line in table.splitlines() if "seoul-noon" in line)
        assert "[Asia/Seoul]" in row and "DISABLED" in row
    finally:
        ok(gureum(env, "schedules", "rm", "seoul-noon"))


def test_errors_are_one_line_and_exit_1(env: dict[str, str], target: str) -> None:
    bad = gureum(env, "schedules", "add", "bad", "cron(0 12 * * * *)", "-f", target)
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: ValidationException:"), bad.stderr
    missing = gureum(env, "schedules", "add", "lost", "rate(1 hour)", "-f", "no-such-fn")
    assert (missing.returncode, missing.stderr.split(":")[1].strip()) == (
        1,
        "ResourceNotFoundException",
    )
    gone = gureum(env, "schedules", "rm", "never-made")
    assert (gone.returncode, gone.stderr.split(":")[1].strip()) == (1, "ResourceNotFoundException")
