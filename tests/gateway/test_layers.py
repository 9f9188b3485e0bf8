"""Layers: published, listed, and mounted at /opt in order, through boto3 and a real server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_zip
from tests.gateway.conftest import code, create, unique

READER = code(
    """
    import os
    import shared
    def handler(event, context):
        with open("/opt/data/which.txt") as f:
            which = f.read()
        return {"shared": shared.VALUE, "which": which, "opt": sorted(os.listdir("/opt"))}
    """
)


def publish(lam: Any, name: str, files: dict[str, str | bytes], **extra: Any) -> dict[str, Any]:
    response: dict[str, Any] = lam.publish_layer_version(
        LayerName=name, Content={"ZipFile": make_zip(files)}, **extra
    )
    return response


def test_layer_versions_are_published_and_listed(lam: Any) -> None:
    name = unique("layer")
    first = publish(
        lam, name, {"python/shared.py": "VALUE = 1\n"}, CompatibleRuntimes=["python3.11"]
    )
    assert first["Version"] == 1
    assert first["LayerVersionArn"] == f"arn:aws:lambda:us-east-1:000000000000:layer:{name}:1"
    second = publish(lam, name, {"python/shared.py": "VALUE = 2\n"}, Description="v2")
    assert second["Version"] == 2
    versions = lam.list_layer_versions(LayerName=name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    listed = {layer["LayerName"]: layer for layer in lam.list_layers()["Layers"]}
    assert listed[name]["LatestMatchingVersion"]["Version"] == 2
    got = lam.get_layer_version(LayerName=name, VersionNumber=1)
    assert got["CompatibleRuntimes"] == ["python3.11"]
    lam.delete_layer_version(LayerName=name, VersionNumber=1)
    with pytest.raises(ClientError) as excinfo:
        lam.get_layer_version(LayerName=name, VersionNumber=1)
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_layers_are_mounted_at_opt_in_order(lam: Any) -> None:
    base = publish(
        lam,
        unique("base"),
        {"python/shared.py": "VALUE = 'base'\n", "data/which.txt": "base"},
    )
    override = publish(lam, unique("over"), {"data/which.txt": "override"})
    name = unique()
    created = create(
        lam, name, READER, Layers=[base["LayerVersionArn"], override["LayerVersionArn"]]
    )
    assert [layer["Arn"] for layer in created["Layers"]] == [
        base["LayerVersionArn"],
        override["LayerVersionArn"],
    ]
    result = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    # The layer's python/ folder is importable; a later layer's file wins over an earlier's.
    assert result == {"shared": "base", "which": "override", "opt": ["data", "python"]}

    lam.update_function_configuration(
        FunctionName=name, Layers=[override["LayerVersionArn"], base["LayerVersionArn"]]
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    result = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    assert result["which"] == "base"


def test_a_missing_layer_or_too_many_are_refused(lam: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        create(lam, unique(), Layers=["arn:aws:lambda:us-east-1:000000000000:layer:nope:1"])
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
    arn = publish(lam, unique("many"), {"x.txt": "x"})["LayerVersionArn"]
    with pytest.raises(ClientError) as excinfo:
        create(lam, unique(), Layers=[arn] * 6)
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_a_deleted_layer_version_keeps_working_for_its_functions(lam: Any) -> None:
    layer = publish(
        lam, unique("kept"), {"python/shared.py": "VALUE = 'still'\n", "data/which.txt": "w"}
    )
    name = unique()
    create(lam, name, READER, Layers=[layer["LayerVersionArn"]])
    lam.delete_layer_version(LayerName=layer["LayerArn"].rsplit(":", 1)[1], VersionNumber=1)
    lam.update_function_configuration(FunctionName=name, MemorySize=256)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    result = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    assert result["shared"] == "still"
