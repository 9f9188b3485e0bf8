"""`gureum deploy|invoke|logs|ls|rm`, run as the installed command against a real `gureum serve`."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HOST_RUNTIME
from tests.gateway.conftest import unique

EXAMPLES = Path(__file__).parents[2] / "examples"


def gureum(
    env: dict[str, str], *args: str, stdin: str = "", **extra_env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gureum", *args],
        env={**env, **extra_env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return folder


def deploy_json(env: dict[str, str], *args: str, **extra_env: str) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(
        ok(gureum(env, "deploy", *args, "--json", **extra_env)).stdout
    )
    return summary


def invoke_json(env: dict[str, str], name: str, event: str = "{}") -> dict[str, Any]:
    result = gureum(env, "invoke", name, "--event", event, "--json")
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


ENV_ECHO = """
    import os

    def handler(event, context):
        print("request", context.aws_request_id)
        return {k: v for k, v in os.environ.items() if k in event.get("keys", [])}
"""


# --- deploy ----------------------------------------------------------------------------------


def test_deploy_a_folder_with_gureum_yaml_then_invoke_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    name = unique("yaml")
    write(
        tmp_path,
        {
            "main.py": ENV_ECHO,
            "gureum.yaml": f"""
                name: {name}
                handler: main.handler
                memory: 256
                timeout: 5
                description: from gureum.yaml
                env:
                  GREETING: annyeong
                  COUNT: 3
            """,
        },
    )
    summary = deploy_json(env, str(tmp_path))
    (function,) = summary["functions"]
    assert function["name"] == name and function["action"] == "created"
    assert function["arn"].endswith(f":function:{name}")
    assert function["memorySize"] == 256 and function["timeout"] == 5
    assert function["runtime"] == HOST_RUNTIME
    # The sha is the uploaded zip's, in hex, and the server agrees.
    assert len(function["sha256"]) == 64 and function["codeSize"] > 0

    result = invoke_json(env, name, '{"keys": ["GREETING", "COUNT"]}')
    assert result["payload"] == {"GREETING": "annyeong", "COUNT": "3"}
    assert result["functionError"] is None and result["statusCode"] == 200


def test_deploy_prints_a_summary_table(env: dict[str, str], tmp_path: Path) -> None:
    name = unique("table")
    write(tmp_path, {"app.py": "def handler(event, context):\n    return 1\n"})
    result = ok(gureum(env, "deploy", str(tmp_path), "--name", name))
    assert name in result.stdout and f"function:{name}" in result.stdout
    assert f"created {name}" in result.stderr


def test_redeploy_updates_code_and_settings(env: dict[str, str], tmp_path: Path) -> None:
    name = unique("redeploy")
    write(tmp_path, {"app.py": "def handler(event, context):\n    return 'first'\n"})
    assert deploy_json(env, str(tmp_path), "--name", name)["functions"][0]["action"] == "created"
    assert invoke_json(env, name)["payload"] == "first"

    write(
        tmp_path,
        {
            "app.py": "def handler(event, context):\n    return 'second'\n",
            "gureum.yaml": "timeout: 9\n",
        },
    )
    (function,) = deploy_json(env, str(tmp_path), "--name", name)["functions"]
    assert function["action"] == "updated" and function["timeout"] == 9
    assert invoke_json(env, name)["payload"] == "second"

    # Zips are reproducible: the same files again do not upload new code.
    (again,) = deploy_json(env, str(tmp_path), "--name", name)["functions"]
    assert again["action"] == "updated (code unchanged)"
    assert again["sha256"] == function["sha256"]


def build_wheel(folder: Path, project: str, module_text: str) -> Path:
    """A minimal pure-Python wheel, made by hand, so pip can install it with no index at all."""
    folder.mkdir(parents=True, exist_ok=True)
    dist_info = f"{project}-1.0.dist-info"
    files = {
        f"{project}/__init__.py": module_text,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {project}\nVersion: 1.0\n",
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: gureum-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{project}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def test_deploy_vendors_requirements_with_pip(env: dict[str, str], tmp_path: Path) -> None:
    name = unique("vendored")
    build_wheel(tmp_path / "wheels", "tinydep", "VALUE = 'from a vendored wheel'\n")
    code = write(
        tmp_path / "code",
        {
            "app.py": """
                import tinydep

                def handler(event, context):
                    return tinydep.VALUE
            """,
            # Relative to the requirements file's folder, as for `pip install -r` run there.
            "requirements.txt": "../wheels/tinydep-1.0-py3-none-any.whl\n",
        },
    )
    # No index: the wheel is all pip may use, so the test runs offline.
    deploy_json(env, str(code), "--name", name, PIP_NO_INDEX="1")
    assert invoke_json(env, name)["payload"] == "from a vendored wheel"


def test_deploy_fails_clearly_when_pip_fails(env: dict[str, str], tmp_path: Path) -> None:
    write(
        tmp_path,
        {"app.py": "def handler(e, c):\n    return 1\n", "requirements.txt": "no-such-pkg-x\n"},
    )
    result = gureum(env, "deploy", str(tmp_path), "--name", unique("pipfail"), PIP_NO_INDEX="1")
    assert result.returncode == 1
    assert "pip could not install" in result.stderr and "no-such-pkg-x" in result.stderr


SAM_TEMPLATE = f"""
    AWSTemplateFormatVersion: "2010-09-09"
    Transform: AWS::Serverless-2016-10-31
    Parameters:
      Stage:
        Type: String
        Default: test
    Globals:
      Function:
        Runtime: {HOST_RUNTIME}
        Timeout: 5
        MemorySize: 256
        Environment:
          Variables:
            STAGE: !Ref Stage
            SHARED: from-globals
    Resources:
      SamGreeter:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: greeter/
          Handler: app.handler
          Environment:
            Variables:
              ROLE: greeter
          Events:
            Root:
              Type: Api
              Properties: {{Path: /sam-greeter, Method: get}}
            Later:
              Type: Kinesis
              Properties: {{Stream: arn:aws:kinesis:us-east-1:000000000000:stream/s}}
      Counter:
        Type: AWS::Serverless::Function
        Properties:
          FunctionName: !Sub "${{Stage}}-sam-counter"
          CodeUri: counter
          Handler: main.handler
          MemorySize: 512
          Tracing: Active
          Environment:
            Variables:
              SHARED: overridden
      Table:
        Type: AWS::Serverless::SimpleTable
"""


def test_deploy_a_sam_template_with_globals(env: dict[str, str], tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "template.yaml": SAM_TEMPLATE,
            "greeter/app.py": ENV_ECHO,
            "counter/main.py": ENV_ECHO,
        },
    )
    result = ok(gureum(env, "deploy", str(tmp_path), "--json"))
    summary = json.loads(result.stdout)
    functions = {f["name"]: f for f in summary["functions"]}
    assert set(functions) == {"SamGreeter", "test-sam-counter"}
    assert functions["SamGreeter"]["memorySize"] == 256
    assert functions["test-sam-counter"]["memorySize"] == 512
    assert functions["test-sam-counter"]["timeout"] == 5
    # The Api event became a route (SAM's REST API: payload 1.0), owned by the stack.
    assert summary["routes"] == [
        {"route": "GET /sam-greeter", "function": "SamGreeter", "payloadFormat": "1.0"}
    ]
    # The SQS event, Tracing and the table are reported, not silently dropped.
    assert "SamGreeter: Events.Later: Type Kinesis is not supported yet" in result.stderr
    assert "Counter: ignoring Tracing (not used by gureum)" in result.stderr
    assert "Table (AWS::Serverless::SimpleTable)" in result.stderr
    assert any("Type Kinesis is not supported" in w for w in summary["warnings"])

    keys = '{"keys": ["STAGE", "SHARED", "ROLE"]}'
    assert invoke_json(env, "SamGreeter", keys)["payload"] == {
        "STAGE": "test",
        "SHARED": "from-globals",
        "ROLE": "greeter",
    }
    assert invoke_json(env, "test-sam-counter", keys)["payload"] == {
        "STAGE": "test",
        "SHARED": "overridden",
    }


def test_deploy_refuses_a_bad_gureum_yaml_naming_the_field(
    env: dict[str, str], tmp_path: Path
) -> None:
    write(
        tmp_path, {"app.py": "def handler(e, c):\n    return 1\n", "gureum.yaml": "memory: lots\n"}
    )
    result = gureum(env, "deploy", str(tmp_path))
    assert result.returncode == 2
    assert "gureum.yaml: memory: expected an integer" in result.stderr

    write(tmp_path, {"gureum.yaml": "memroy: 256\n"})
    result = gureum(env, "deploy", str(tmp_path))
    assert result.returncode == 2
    assert "gureum.yaml: memroy: unknown key" in result.stderr


def test_deploy_refuses_an_unsupported_intrinsic(env: dict[str, str], tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "template.yaml": """
                Resources:
                  Fn:
                    Type: AWS::Serverless::Function
                    Properties:
                      Handler: app.handler
                      Runtime: python3.11
                      Description: !GetAtt Other.Arn
            """,
        },
    )
    result = gureum(env, "deploy", str(tmp_path / "template.yaml"))
    assert result.returncode == 2
    assert "Resources.Fn.Properties.Description: !GetAtt is not supported" in result.stderr


# --- invoke ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def echo(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    """A deployed function that prints and returns its event, and fails when asked to."""
    name = unique("echo")
    folder = write(
        tmp_path_factory.mktemp("echo"),
        {
            "app.py": """
                def handler(event, context):
                    print("event", event)
                    if event.get("fail"):
                        raise ValueError("asked to fail")
                    return {"event": event, "requestId": context.aws_request_id}
            """,
        },
    )
    ok(gureum(env, "deploy", str(folder), "--name", name))
    return name


def test_invoke_prints_the_payload_and_with_logs_the_tail(env: dict[str, str], echo: str) -> None:
    result = ok(gureum(env, "invoke", echo, "--event", '{"n": 1}', "--logs"))
    payload = json.loads(result.stdout)
    assert payload["event"] == {"n": 1}
    assert f"START RequestId: {payload['requestId']}" in result.stderr
    assert "event {'n': 1}" in result.stderr
    assert "REPORT RequestId: " in result.stderr


def test_invoke_reads_the_event_from_a_file_or_stdin(
    env: dict[str, str], echo: str, tmp_path: Path
) -> None:
    (tmp_path / "event.json").write_text('{"from": "file"}')
    result = ok(gureum(env, "invoke", echo, "--event", f"@{tmp_path / 'event.json'}"))
    assert json.loads(result.stdout)["event"] == {"from": "file"}
    result = ok(gureum(env, "invoke", echo, "--event", "@-", stdin='{"from": "stdin"}'))
    assert json.loads(result.stdout)["event"] == {"from": "stdin"}


def test_invoke_json(env: dict[str, str], echo: str) -> None:
    result = ok(gureum(env, "invoke", echo, "--event", '{"n": 2}', "--json", "--logs"))
    summary = json.loads(result.stdout)
    assert summary["statusCode"] == 200
    assert summary["executedVersion"] == "$LATEST"
    assert summary["functionError"] is None
    assert summary["payload"]["event"] == {"n": 2}
    assert "END RequestId: " in summary["logs"]


def test_invoke_exits_1_when_the_function_fails(env: dict[str, str], echo: str) -> None:
    result = gureum(env, "invoke", echo, "--event", '{"fail": true}')
    assert result.returncode == 1
    error = json.loads(result.stdout)
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "asked to fail"
    summary = json.loads(gureum(env, "invoke", echo, "--event", '{"fail": 1}', "--json").stdout)
    assert summary["functionError"] == "Unhandled"


def test_invoke_async_is_accepted_and_runs(env: dict[str, str], echo: str) -> None:
    marker = unique("async-marker")
    result = ok(gureum(env, "invoke", echo, "--async", "--event", json.dumps({"m": marker})))
    assert result.stdout.startswith("202 Accepted (request ")
    summary = json.loads(ok(gureum(env, "invoke", echo, "--async", "--json")).stdout)
    assert summary["statusCode"] == 202 and len(summary["requestId"]) == 36
    deadline = time.monotonic() + 30
    while marker not in ok(gureum(env, "logs", echo)).stdout:
        assert time.monotonic() < deadline, "the async invocation never ran"
        time.sleep(0.5)


def test_invoke_refuses_bad_input(env: dict[str, str], echo: str) -> None:
    result = gureum(env, "invoke", echo, "--event", "{nope")
    assert result.returncode == 2 and "not JSON" in result.stderr
    result = gureum(env, "invoke", echo, "--async", "--logs")
    assert result.returncode == 2
    result = gureum(env, "invoke", unique("missing"))
    assert result.returncode == 1 and "ResourceNotFoundException" in result.stderr


# --- logs ------------------------------------------------------------------------------------


def test_logs_of_one_request(env: dict[str, str], echo: str) -> None:
    first = invoke_json(env, echo, '{"which": "first"}')["payload"]["requestId"]
    second = invoke_json(env, echo, '{"which": "second"}')["payload"]["requestId"]
    result = ok(gureum(env, "logs", echo, "--request-id", second))
    assert f"START RequestId: {second}" in result.stdout
    assert "'which': 'second'" in result.stdout
    assert first not in result.stdout and "'which': 'first'" not in result.stdout

    lines = [
        json.loads(line) for line in ok(gureum(env, "logs", echo, "--json")).stdout.splitlines()
    ]
    assert {line["requestId"] for line in lines} >= {first, second}
    assert all(set(line) == {"timestamp", "requestId", "message"} for line in lines)


def test_logs_since(env: dict[str, str], echo: str) -> None:
    request_id = invoke_json(env, echo)["payload"]["requestId"]
    assert request_id in ok(gureum(env, "logs", echo, "--since", "1h")).stdout
    in_a_minute = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(time.time() + 60))
    assert ok(gureum(env, "logs", echo, "--since", in_a_minute)).stdout == ""
    result = gureum(env, "logs", echo, "--since", "last tuesday")
    assert result.returncode == 2 and "--since" in result.stderr


def test_logs_of_an_unknown_function(env: dict[str, str]) -> None:
    result = gureum(env, "logs", unique("missing"))
    assert result.returncode == 1 and "ResourceNotFoundException" in result.stderr


def test_logs_follow_prints_new_lines_once(env: dict[str, str], echo: str) -> None:
    follower = subprocess.Popen(
        [sys.executable, "-m", "gureum", "logs", echo, "--follow", "--since", "1s"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert follower.stdout is not None
    stdout = follower.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    seen: list[str] = []

    def read_until_report_of(request_id: str) -> None:
        deadline = time.monotonic() + 30
        while not any(f"REPORT RequestId: {request_id}" in line for line in seen):
            assert time.monotonic() < deadline, f"no REPORT line in {seen}"
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=0.5))

    try:
        request_id = invoke_json(env, echo, '{"followed": true}')["payload"]["requestId"]
        read_until_report_of(request_id)
        # A second invocation's lines can only come from a later poll: every poll in between
        # looked back over the first one's lines and must not have printed them again.
        later = invoke_json(env, echo, '{"later": true}')["payload"]["requestId"]
        read_until_report_of(later)
    finally:
        follower.send_signal(signal.SIGINT)
        status = follower.wait(timeout=30)
        follower.stdout.close()
        assert follower.stderr is not None
        follower.stderr.close()
    assert status == 0
    mine = [line for line in seen if request_id in line]
    assert len(mine) == 3, mine  # START, END, REPORT: once each
    assert sum("'followed': True" in line for line in seen) == 1


# --- ls and rm -------------------------------------------------------------------------------


def test_ls_lists_and_rm_removes(env: dict[str, str], tmp_path: Path) -> None:
    name = unique("listed")
    write(
        tmp_path, {"app.py": "def handler(e, c):\n    return 1\n", "gureum.yaml": "memory: 192\n"}
    )
    ok(gureum(env, "deploy", str(tmp_path), "--name", name))

    listed = {f["name"]: f for f in json.loads(ok(gureum(env, "ls", "--json")).stdout)["functions"]}
    assert listed[name]["memorySize"] == 192 and listed[name]["runtime"] == HOST_RUNTIME
    assert listed[name]["codeSize"] > 0 and listed[name]["lastModified"]
    table = ok(gureum(env, "ls")).stdout
    assert name in table and "192 MB" in table

    result = ok(gureum(env, "rm", name, "--yes"))
    assert result.stdout.strip() == f"deleted {name}"
    listed = {f["name"] for f in json.loads(ok(gureum(env, "ls", "--json")).stdout)["functions"]}
    assert name not in listed
    assert gureum(env, "invoke", name).returncode == 1
    assert gureum(env, "rm", name, "--yes").returncode == 1


def test_rm_without_a_terminal_does_not_ask(env: dict[str, str], tmp_path: Path) -> None:
    name = unique("unasked")
    write(tmp_path, {"app.py": "def handler(e, c):\n    return 1\n"})
    ok(gureum(env, "deploy", str(tmp_path), "--name", name))
    ok(gureum(env, "rm", name))
    assert gureum(env, "invoke", name).returncode == 1


def test_an_unreachable_server_is_a_clear_error(env: dict[str, str]) -> None:
    result = gureum(env, "ls", "--endpoint", "http://127.0.0.1:1")
    assert result.returncode == 1
    assert "cannot reach gureum at http://127.0.0.1:1" in result.stderr


def test_credentials_from_the_environment_are_used(env: dict[str, str], echo: str) -> None:
    # Any pair works on a loopback server; this checks the AWS variables are taken, not refused.
    result = gureum(
        env, "invoke", echo, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret"
    )
    ok(result)
    assert gureum(env, "ls", "--profile", "no-such-profile").returncode == 2


def test_the_example_deploys_and_answers(env: dict[str, str]) -> None:
    name = unique("hello")
    ok(gureum(env, "deploy", str(EXAMPLES / "hello"), "--name", name))
    result = ok(gureum(env, "invoke", name, "--event", '{"name": "remote"}'))
    assert json.loads(result.stdout)["message"] == "Hello, remote!"


def test_the_sam_example_deploys_both_functions(env: dict[str, str]) -> None:
    summary = deploy_json(env, str(EXAMPLES / "sam"))
    assert [f["name"] for f in summary["functions"]] == ["dev-hello", "dev-clock"]
    result = ok(gureum(env, "invoke", "dev-clock", "--json"))
    assert json.loads(result.stdout)["payload"]["stage"] == "dev"
    result = ok(gureum(env, "invoke", "dev-hello", "--event", '{"name": "sam"}'))
    assert json.loads(result.stdout)["message"] == "Hello, sam!"
