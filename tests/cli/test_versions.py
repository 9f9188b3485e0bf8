"""`gureum versions|publish|alias|layers`, and deploys that publish layers and move aliases, run as
the installed command against one real `gureum serve` for the module."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_remote import EXAMPLES, deploy_json, gureum, ok, write
from tests.conftest import HOST_RUNTIME
from tests.gateway.conftest import unique


def returns(value: str) -> str:
    return f"def handler(event, context):\n    return {value!r}\n"


def invoke(env: dict[str, str], name: str, *args: str) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(ok(gureum(env, "invoke", name, *args, "--json")).stdout)
    return summary


def listed(env: dict[str, str], *args: str) -> Any:
    return json.loads(ok(gureum(env, *args, "--json")).stdout)


@pytest.fixture(scope="module")
def released(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    """A function with two published versions: version 1 returns "one", version 2 "two"."""
    name = unique("released")
    folder = tmp_path_factory.mktemp("released")
    write(folder, {"app.py": returns("one")})
    ok(gureum(env, "deploy", str(folder), "--name", name))
    assert ok(gureum(env, "publish", name)).stdout.strip() == "1"
    write(folder, {"app.py": returns("two")})
    ok(gureum(env, "deploy", str(folder), "--name", name))
    assert ok(gureum(env, "publish", name, "--description", "second")).stdout.strip() == "2"
    return name


# --- versions and publish --------------------------------------------------------------------


def test_versions_lists_latest_and_the_published_ones(env: dict[str, str], released: str) -> None:
    versions = listed(env, "versions", released)["versions"]
    assert [v["version"] for v in versions] == ["$LATEST", "1", "2"]
    latest, first, second = versions
    assert latest["sha256"] == second["sha256"] != first["sha256"]
    assert len(first["sha256"]) == 64  # hex, as deploy prints it
    assert second["description"] == "second" and second["arn"].endswith(f"{released}:2")
    table = ok(gureum(env, "versions", released)).stdout
    assert "$LATEST" in table and second["sha256"][:12] in table and "second" in table
    assert invoke(env, released, "--qualifier", "1")["payload"] == "one"


def test_publish_without_changes_publishes_nothing(env: dict[str, str], released: str) -> None:
    result = ok(gureum(env, "publish", released))
    assert result.stdout.strip() == "2"
    assert "nothing published" in result.stderr
    summary = listed(env, "publish", released)
    assert summary["version"] == "2" and summary["new"] is False


def test_versions_of_an_unknown_function(env: dict[str, str]) -> None:
    for command in ("versions", "publish"):
        result = gureum(env, command, unique("missing"))
        assert result.returncode == 1 and "ResourceNotFoundException" in result.stderr


# --- aliases ---------------------------------------------------------------------------------


def test_an_alias_with_a_weight(env: dict[str, str], released: str) -> None:
    created = gureum(
        env, "alias", "create", released, "canary", "--version", "1", "--weight", "2=0.1"
    )
    assert ok(created).stdout.strip() == "created canary -> 1 (90%), 2 (10%)"
    (alias,) = listed(env, "alias", "ls", released)["aliases"]
    assert alias["name"] == "canary" and alias["version"] == "1"
    assert alias["weights"] == {"2": 0.1}
    assert alias["arn"].endswith(f":function:{released}:canary")
    assert "2 (10%)" in ok(gureum(env, "alias", "ls", released)).stdout
    assert invoke(env, released, "--qualifier", "canary")["payload"] in ("one", "two")

    # All of it to version 2: the weight decides where the invocations go.
    ok(gureum(env, "alias", "update", released, "canary", "--weight", "2=1.0"))
    result = invoke(env, released, "--qualifier", "canary")
    assert (result["executedVersion"], result["payload"]) == ("2", "two")

    updated = gureum(env, "alias", "update", released, "canary", "--version", "2", "--no-weights")
    assert ok(updated).stdout.strip() == "updated canary -> 2"
    (alias,) = listed(env, "alias", "ls", released)["aliases"]
    assert (alias["version"], alias["weights"]) == ("2", {})

    ok(gureum(env, "alias", "update", released, "canary", "--description", "all on 2"))
    assert listed(env, "alias", "ls", released)["aliases"][0]["description"] == "all on 2"

    assert ok(gureum(env, "alias", "rm", released, "canary")).stdout.strip() == (
        f"deleted alias canary of {released}"
    )
    assert listed(env, "alias", "ls", released) == {"aliases": []}
    result = gureum(env, "alias", "rm", released, "canary", "--yes")
    assert result.returncode == 1 and "ResourceNotFoundException" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["create", "A", "live"],  # --version is required
        ["create", "A", "live", "--version", "1", "--weight", "2=1.5"],
        ["create", "A", "live", "--version", "1", "--weight", "latest=0.1"],
        ["create", "A", "live", "--version", "1", "--weight", "0.1"],
        ["update", "A", "live", "--weight", "2=0.1", "--no-weights"],
        ["update", "A", "live"],  # nothing to change
    ],
)
def test_alias_bad_input_is_exit_2(env: dict[str, str], released: str, args: list[str]) -> None:
    result = gureum(env, "alias", *[released if a == "A" else a for a in args])
    assert result.returncode == 2, result.stderr


def test_alias_refusals_from_the_server_are_exit_1(env: dict[str, str], released: str) -> None:
    result = gureum(env, "alias", "create", released, "live", "--version", "9")
    assert result.returncode == 1 and "ResourceNotFoundException" in result.stderr
    result = gureum(env, "alias", "update", released, "nope", "--version", "1")
    assert result.returncode == 1 and "ResourceNotFoundException" in result.stderr


# --- layers ----------------------------------------------------------------------------------

USES_SHARED = """
    import shared

    def handler(event, context):
        return shared.VALUE
"""


def test_layers_publish_list_and_remove(env: dict[str, str], tmp_path: Path) -> None:
    layer = unique("layer")
    content = write(tmp_path / "content", {"python/shared.py": "VALUE = 'first'\n"})
    options = ["--runtime", HOST_RUNTIME, "--description", "shared code"]
    result = ok(gureum(env, "layers", "publish", layer, str(content), *options))
    first_arn = result.stdout.strip()
    assert first_arn.endswith(f":layer:{layer}:1") and "version 1" in result.stderr

    # A .zip is published as it is.
    with zipfile.ZipFile(tmp_path / "second.zip", "w") as archive:
        archive.writestr("python/shared.py", "VALUE = 'second'\n")
    second = listed(env, "layers", "publish", layer, str(tmp_path / "second.zip"))
    assert second["version"] == 2 and second["arn"].endswith(f":layer:{layer}:2")

    layers = {entry["name"]: entry for entry in listed(env, "layers", "ls")["layers"]}
    assert layers[layer]["version"] == 2 and layers[layer]["arn"] == second["arn"]
    versions = listed(env, "layers", "ls", layer)["versions"]
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[1]["runtimes"] == [HOST_RUNTIME]
    assert versions[1]["description"] == "shared code"
    assert layer in ok(gureum(env, "layers", "ls")).stdout

    deleted = ok(gureum(env, "layers", "rm", layer, "1", "--yes"))
    assert deleted.stdout.strip() == f"deleted layer {layer} version 1"
    assert [v["version"] for v in listed(env, "layers", "ls", layer)["versions"]] == [2]
    result = gureum(env, "layers", "rm", layer, "1", "--yes")
    assert result.returncode == 1 and "ResourceNotFoundException" in result.stderr


def test_layers_bad_input_is_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a zip")
    result = gureum(env, "layers", "publish", unique("layer"), str(tmp_path / "notes.txt"))
    assert result.returncode == 2 and "not a folder or a .zip file" in result.stderr
    result = gureum(env, "layers", "publish", "bad name!", str(tmp_path))
    assert result.returncode == 2
    assert gureum(env, "layers", "rm", "x", "zero").returncode == 2
    assert gureum(env, "layers", "publish", "x", str(tmp_path / "missing")).returncode == 2


def test_deploy_with_layers_and_an_alias_from_gureum_yaml(
    env: dict[str, str], tmp_path: Path
) -> None:
    layer_arn = ok(
        gureum(
            env,
            "layers",
            "publish",
            unique("shared"),
            str(write(tmp_path / "layer", {"python/shared.py": "VALUE = 'from the layer'\n"})),
        )
    ).stdout.strip()
    name = unique("layered")
    code = write(
        tmp_path / "code",
        {
            "app.py": USES_SHARED,
            "gureum.yaml": f"name: {name}\nlayers: [{layer_arn}]\nalias: live\n",
        },
    )
    (function,) = deploy_json(env, str(code))["functions"]
    assert function["layers"] == [layer_arn]
    assert (function["version"], function["alias"]) == ("1", "live")
    assert invoke(env, name)["payload"] == "from the layer"
    result = invoke(env, name, "--qualifier", "live")
    assert (result["executedVersion"], result["payload"]) == ("1", "from the layer")

    # Unchanged: no new version. Changed: a new one, and the alias follows it.
    (again,) = deploy_json(env, str(code))["functions"]
    assert again["version"] == "1"
    write(code, {"app.py": USES_SHARED.replace("shared.VALUE", "shared.VALUE + '!'")})
    result = ok(gureum(env, "deploy", str(code)))
    assert "live -> 2" in result.stdout
    assert "version 2 (published), alias live updated" in result.stderr
    assert invoke(env, name, "--qualifier", "live")["payload"] == "from the layer!"

    # As SAM's AutoPublishAlias: a deploy replaces the weights the alias had.
    ok(gureum(env, "alias", "update", name, "live", "--weight", "1=0.5"))
    write(code, {"app.py": USES_SHARED.replace("shared.VALUE", "shared.VALUE + '?'")})
    assert deploy_json(env, str(code))["functions"][0]["version"] == "3"
    (alias,) = listed(env, "alias", "ls", name)["aliases"]
    assert (alias["version"], alias["weights"]) == ("3", {})

    # Layers taken out of gureum.yaml are taken off the function.
    write(code, {"app.py": returns("plain"), "gureum.yaml": f"name: {name}\n"})
    (plain,) = deploy_json(env, str(code))["functions"]
    assert plain["layers"] == [] and "version" not in plain


def test_deploy_with_a_missing_layer_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    missing = "arn:aws:lambda:us-east-1:000000000000:layer:no-such-layer:1"
    write(tmp_path, {"app.py": returns("x"), "gureum.yaml": f"layers: [{missing}]\n"})
    result = gureum(env, "deploy", str(tmp_path), "--name", unique("nolayer"))
    assert result.returncode == 1 and "no-such-layer" in result.stderr


SAM_WITH_LAYER = f"""
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function:
        Runtime: {HOST_RUNTIME}
        AutoPublishAlias: live
        Layers:
          - !Ref Shared
    Resources:
      Shared:
        Type: AWS::Serverless::LayerVersion
        Properties:
          LayerName: {{layer}}
          ContentUri: shared/
          CompatibleRuntimes: [{HOST_RUNTIME}]
        Metadata:
          BuildMethod: {HOST_RUNTIME}
      Reader:
        Type: AWS::Serverless::Function
        Properties:
          FunctionName: {{name}}
          CodeUri: reader/
          Handler: app.handler
"""


def test_a_sam_template_with_a_layer_and_auto_publish_alias(
    env: dict[str, str], tmp_path: Path
) -> None:
    layer, name = unique("sam-shared"), unique("sam-reader")
    write(
        tmp_path,
        {
            "template.yaml": SAM_WITH_LAYER.format(layer=layer, name=name),
            # BuildMethod python3.X: the folder's files end up under python/, as `sam build` does.
            "shared/shared.py": "VALUE = 'from the template layer'\n",
            "reader/app.py": USES_SHARED,
        },
    )
    summary = deploy_json(env, str(tmp_path))
    (published,) = summary["layers"]
    assert (published["logicalId"], published["name"]) == ("Shared", layer)
    assert published["action"] == "published" and published["version"] == 1
    (function,) = summary["functions"]
    assert function["layers"] == [published["arn"]]
    assert (function["version"], function["alias"]) == ("1", "live")
    result = invoke(env, name, "--qualifier", "live")
    assert (result["executedVersion"], result["payload"]) == ("1", "from the template layer")

    # Nothing changed: the layer and the version are reused, not published again.
    again = deploy_json(env, str(tmp_path))
    assert again["layers"][0]["action"] == "unchanged" and again["layers"][0]["version"] == 1
    assert again["functions"][0]["version"] == "1"

    # A new layer version changes the function: a new version, and the alias on it.
    write(tmp_path, {"shared/shared.py": "VALUE = 'layer, second edition'\n"})
    third = deploy_json(env, str(tmp_path))
    assert third["layers"][0]["version"] == 2 and third["functions"][0]["version"] == "2"
    result = invoke(env, name, "--qualifier", "live")
    assert (result["executedVersion"], result["payload"]) == ("2", "layer, second edition")
    assert invoke(env, name, "--qualifier", "1")["payload"] == "from the template layer"


def test_the_layers_example_deploys_and_answers(env: dict[str, str]) -> None:
    summary = deploy_json(env, str(EXAMPLES / "sam-layers"))
    assert [layer["name"] for layer in summary["layers"]] == ["greetings"]
    (function,) = summary["functions"]
    assert (function["name"], function["alias"]) == ("polyglot", "live")
    result = invoke(env, "polyglot", "--qualifier", "live", "--event", '{"language": "ko"}')
    assert result["payload"]["message"] == "안녕하세요, world!"
