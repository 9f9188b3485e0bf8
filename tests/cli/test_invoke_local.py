"""`gureum invoke-local` and `gureum runtimes`, run through the real command."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gureum.cli.main import app
from tests.conftest import HOST_RUNTIME

EXAMPLES = Path(__file__).parents[2] / "examples"
runner = CliRunner()


def test_invoke_local_runs_the_example_and_prints_logs_and_result() -> None:
    result = runner.invoke(
        app, ["invoke-local", str(EXAMPLES / "hello"), "--event", '{"name": "cli"}']
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["message"] == "Hello, cli!"
    assert "START RequestId: " in result.stderr
    assert "greeting cli from hello" in result.stderr
    assert "REPORT RequestId: " in result.stderr


def test_invoke_local_json_output(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event['x'] * 2\n")
    result = runner.invoke(
        app,
        ["invoke-local", str(tmp_path), "--event", '{"x": 21}', "--json", "--isolation", "process"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["payload"] == 42
    assert summary["functionError"] is None
    assert summary["billedDurationMs"] >= 1


def test_invoke_local_exits_1_when_the_function_fails(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    raise KeyError('gone')\n")
    result = runner.invoke(app, ["invoke-local", str(tmp_path)])
    assert result.exit_code == 1
    error = json.loads(result.stdout.strip().splitlines()[-1])
    assert error["errorType"] == "KeyError"


def test_invoke_local_refuses_an_event_that_is_not_json(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 1\n")
    result = runner.invoke(app, ["invoke-local", str(tmp_path), "--event", "{nope"])
    assert result.exit_code == 2
    assert "not JSON" in result.output


def test_invoke_local_reports_invalid_settings_with_lambdas_error_type(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 1\n")
    result = runner.invoke(app, ["invoke-local", str(tmp_path), "--memory", "64"])
    assert result.exit_code == 2
    assert "InvalidParameterValueException" in result.stderr
    assert "memorySize" in result.stderr


def test_runtimes_lists_the_hosts_own_interpreter() -> None:
    result = runner.invoke(app, ["runtimes"])
    assert result.exit_code == 0
    assert HOST_RUNTIME in result.stdout.split()


def test_invoke_local_refuses_an_unknown_isolation_level(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 1\n")
    result = runner.invoke(app, ["invoke-local", str(tmp_path), "--isolation", "vm"])
    assert result.exit_code == 2
    assert "expected one of full, rootless, process" in result.output


def test_invoke_local_at_the_rootless_level(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "import os\ndef handler(event, context):\n    return os.getuid()\n"
    )
    result = runner.invoke(app, ["invoke-local", str(tmp_path), "--isolation", "rootless"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1]) == 993
