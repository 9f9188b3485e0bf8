"""The real AWS CLI (`aws lambda ... --endpoint-url`) against a real `gureum serve`.

The CLI is the one the `dev` extra installs (v1, from PyPI), run as `python -m awscli` so that
an unrelated `aws` earlier on PATH cannot stand in for it. Each call starts a process (~0.5 s),
so the tests share one server and one function where they can.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.conftest import AwsCli, Server, aws_cli, code, unique

RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
ROLE = "arn:aws:iam::000000000000:role/lambda"

GREETER = code(
    """
    import os
    def handler(event, context):
        print("greeting", event.get("who"))
        return {"greeting": os.environ.get("GREETING"), "who": event.get("who"), "v": 1}
    """
)
GREETER_V2 = code(
    """
    import os
    def handler(event, context):
        return {"greeting": os.environ.get("GREETING"), "who": event.get("who"), "v": 2}
    """
)


@pytest.fixture(scope="module")
def aws(server: Server, tmp_path_factory: pytest.TempPathFactory) -> AwsCli:
    return aws_cli(server, tmp_path_factory.mktemp("aws"), "lambda")


@pytest.fixture(scope="module")
def zips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("zips")
    paths = {"v1": folder / "v1.zip", "v2": folder / "v2.zip"}
    paths["v1"].write_bytes(GREETER)
    paths["v2"].write_bytes(GREETER_V2)
    return paths


def create_function(aws: AwsCli, name: str, zip_path: Path, *extra: str) -> Any:
    return aws.ok(
        "create-function",
        "--function-name",
        name,
        "--runtime",
        RUNTIME,
        "--handler",
        "app.handler",
        "--role",
        ROLE,
        "--zip-file",
        f"fileb://{zip_path}",
        *extra,
    )


@pytest.fixture(scope="module")
def greeter(aws: AwsCli, zips: dict[str, Path]) -> str:
    """One function most tests share, created with the CLI."""
    name = unique("cli")
    created = create_function(
        aws, name, zips["v1"], "--timeout", "5", "--environment", "Variables={GREETING=hello}"
    )
    assert created["FunctionName"] == name
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert created["Timeout"] == 5
    assert created["Environment"] == {"Variables": {"GREETING": "hello"}}
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(GREETER).digest()).decode()
    return name


def invoke(aws: AwsCli, outfile: Path, *args: str) -> tuple[Any, Any]:
    """(the CLI's own output, the function's result written to outfile)."""
    shown = aws.ok("invoke", *args, str(outfile))
    return shown, json.loads(outfile.read_bytes())


def test_get_function_and_its_configuration(aws: AwsCli, greeter: str) -> None:
    got = aws.ok("get-function", "--function-name", greeter)
    assert got["Configuration"]["FunctionName"] == greeter
    assert got["Configuration"]["State"] == "Active"
    assert got["Code"]["Location"]
    configuration = aws.ok("get-function-configuration", "--function-name", greeter)
    assert configuration["Handler"] == "app.handler"
    assert configuration["RevisionId"] == got["Configuration"]["RevisionId"]
    # The waiter polls GetFunction until State is Active; a wrong state would time it out.
    aws.ok("wait", "function-active-v2", "--function-name", greeter)


def test_invoke_with_payload_and_log_tail(aws: AwsCli, greeter: str, tmp_path: Path) -> None:
    shown, result = invoke(
        aws,
        tmp_path / "out.json",
        "--function-name",
        greeter,
        "--payload",
        '{"who": "cli"}',
        "--log-type",
        "Tail",
    )
    assert shown["StatusCode"] == 200
    assert shown["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in shown
    assert result == {"greeting": "hello", "who": "cli", "v": 1}
    log = base64.b64decode(shown["LogResult"]).decode()
    assert log.startswith("START RequestId: ")
    assert "greeting cli" in log and "REPORT RequestId: " in log


def test_a_function_error_is_reported_not_raised(aws: AwsCli, tmp_path: Path) -> None:
    failing = tmp_path / "failing.zip"
    failing.write_bytes(code("def handler(event, context):\n    raise KeyError('gone')\n"))
    name = unique("cli")
    create_function(aws, name, failing)
    shown, result = invoke(aws, tmp_path / "out.json", "--function-name", name)
    assert shown["StatusCode"] == 200 and shown["FunctionError"] == "Unhandled"
    assert result["errorType"] == "KeyError"


def test_list_functions_pages_with_max_items(aws: AwsCli, zips: dict[str, Path]) -> None:
    names = {unique("page") for _ in range(3)}
    for name in names:
        create_function(aws, name, zips["v1"])
    # --page-size makes the server paginate (MaxItems/NextMarker); --max-items makes the CLI
    # stop early and hand back a NextToken to resume from.
    first = aws.ok("list-functions", "--max-items", "2", "--page-size", "1")
    assert len(first["Functions"]) == 2 and first["NextToken"]
    seen = [f["FunctionName"] for f in first["Functions"]]
    token = first["NextToken"]
    rest = aws.ok("list-functions", "--page-size", "1", "--starting-token", token)
    seen += [f["FunctionName"] for f in rest["Functions"]]
    assert "NextToken" not in rest
    assert len(seen) == len(set(seen))
    assert names <= set(seen)


def test_layers_and_aliases_page_with_max_items(aws: AwsCli, zips: dict[str, Path]) -> None:
    layer = unique("cli-layer")
    for _ in range(3):
        aws.ok(
            "publish-layer-version", "--layer-name", layer, "--zip-file", f"fileb://{zips['v1']}"
        )
    first = aws.ok(
        "list-layer-versions", "--layer-name", layer, "--page-size", "1", "--max-items", "2"
    )
    assert [v["Version"] for v in first["LayerVersions"]] == [3, 2]
    rest = aws.ok(
        "list-layer-versions", "--layer-name", layer, "--starting-token", first["NextToken"]
    )
    assert [v["Version"] for v in rest["LayerVersions"]] == [1]
    assert "NextToken" not in rest
    # Every page, fetched one layer at a time by the CLI itself.
    names = [entry["LayerName"] for entry in aws.ok("list-layers", "--page-size", "1")["Layers"]]
    assert names.count(layer) == 1 and len(names) == len(set(names))

    name = unique("cli")
    create_function(aws, name, zips["v1"], "--publish")
    for alias in ["green", "blue", "red"]:
        aws.ok("create-alias", "--function-name", name, "--name", alias, "--function-version", "1")
    first = aws.ok("list-aliases", "--function-name", name, "--page-size", "2", "--max-items", "1")
    assert [a["Name"] for a in first["Aliases"]] == ["blue"]
    rest = aws.ok(
        "list-aliases",
        "--function-name",
        name,
        "--page-size",
        "1",
        "--starting-token",
        first["NextToken"],
    )
    assert [a["Name"] for a in rest["Aliases"]] == ["green", "red"]


def test_update_code_and_configuration_then_wait(
    aws: AwsCli, zips: dict[str, Path], tmp_path: Path
) -> None:
    name = unique("cli")
    created = create_function(aws, name, zips["v1"])
    updated = aws.ok(
        "update-function-code", "--function-name", name, "--zip-file", f"fileb://{zips['v2']}"
    )
    assert updated["CodeSha256"] != created["CodeSha256"]
    aws.ok("wait", "function-updated-v2", "--function-name", name)
    configured = aws.ok(
        "update-function-configuration",
        "--function-name",
        name,
        "--environment",
        "Variables={GREETING=bye}",
        "--memory-size",
        "256",
    )
    assert configured["Environment"] == {"Variables": {"GREETING": "bye"}}
    assert configured["MemorySize"] == 256
    assert configured["LastUpdateStatus"] == "Successful"
    aws.ok("wait", "function-updated-v2", "--function-name", name)
    _, result = invoke(
        aws, tmp_path / "out.json", "--function-name", name, "--payload", '{"who": "x"}'
    )
    assert result == {"greeting": "bye", "who": "x", "v": 2}


def test_versions_and_a_weighted_alias(aws: AwsCli, zips: dict[str, Path], tmp_path: Path) -> None:
    name = unique("cli")
    create_function(aws, name, zips["v1"])
    assert aws.ok("publish-version", "--function-name", name)["Version"] == "1"
    aws.ok("update-function-code", "--function-name", name, "--zip-file", f"fileb://{zips['v2']}")
    published = aws.ok("publish-version", "--function-name", name, "--description", "second")
    assert published["Version"] == "2"
    assert published["FunctionArn"].endswith(f":{name}:2")
    versions = aws.ok("list-versions-by-function", "--function-name", name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]

    routing = {"AdditionalVersionWeights": {"2": 0.5}}
    alias = aws.ok(
        "create-alias",
        "--function-name",
        name,
        "--name",
        "live",
        "--function-version",
        "1",
        "--routing-config",
        json.dumps(routing),
    )
    assert alias["AliasArn"].endswith(f":{name}:live")
    assert alias["RoutingConfig"] == routing
    aliases = aws.ok("list-aliases", "--function-name", name)["Aliases"]
    assert [(a["Name"], a["FunctionVersion"], a["RoutingConfig"]) for a in aliases] == [
        ("live", "1", routing)
    ]
    shown, result = invoke(
        aws, tmp_path / "out.json", "--function-name", name, "--qualifier", "live"
    )
    assert shown["ExecutedVersion"] in {"1", "2"}
    assert result["v"] == int(shown["ExecutedVersion"])


def test_function_concurrency(aws: AwsCli, greeter: str) -> None:
    put = aws.ok(
        "put-function-concurrency",
        "--function-name",
        greeter,
        "--reserved-concurrent-executions",
        "5",
    )
    assert put == {"ReservedConcurrentExecutions": 5}
    got = aws.ok("get-function-concurrency", "--function-name", greeter)
    assert got == {"ReservedConcurrentExecutions": 5}
    aws.ok("delete-function-concurrency", "--function-name", greeter)
    assert aws.ok("get-function-concurrency", "--function-name", greeter) == {}


def test_publish_and_list_layers(aws: AwsCli, zips: dict[str, Path]) -> None:
    layer = unique("cli-layer")
    published = aws.ok(
        "publish-layer-version",
        "--layer-name",
        layer,
        "--zip-file",
        f"fileb://{zips['v1']}",
        "--compatible-runtimes",
        RUNTIME,
    )
    assert published["Version"] == 1
    assert published["LayerVersionArn"] == f"arn:aws:lambda:us-east-1:000000000000:layer:{layer}:1"
    listed = {entry["LayerName"]: entry for entry in aws.ok("list-layers")["Layers"]}
    assert listed[layer]["LatestMatchingVersion"]["Version"] == 1
    assert listed[layer]["LatestMatchingVersion"]["CompatibleRuntimes"] == [RUNTIME]


def test_account_settings(aws: AwsCli, greeter: str) -> None:
    settings = aws.ok("get-account-settings")
    assert settings["AccountLimit"]["CodeSizeZipped"] == 50 * 1024 * 1024
    assert settings["AccountUsage"]["FunctionCount"] >= 1


def test_errors_carry_lambdas_error_codes(aws: AwsCli, greeter: str, zips: dict[str, Path]) -> None:
    assert "ResourceNotFoundException" in aws.fails("get-function", "--function-name", "nope-none")
    duplicate = aws.fails(
        "create-function",
        "--function-name",
        greeter,
        "--runtime",
        RUNTIME,
        "--handler",
        "app.handler",
        "--role",
        ROLE,
        "--zip-file",
        f"fileb://{zips['v1']}",
    )
    assert "ResourceConflictException" in duplicate


def test_delete_function(aws: AwsCli, zips: dict[str, Path]) -> None:
    name = unique("cli")
    create_function(aws, name, zips["v1"])
    aws.ok("delete-function", "--function-name", name)
    assert "ResourceNotFoundException" in aws.fails("get-function", "--function-name", name)
