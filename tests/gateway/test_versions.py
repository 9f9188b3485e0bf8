"""Published versions and aliases (with weighted routing), through boto3 and a real server."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.gateway.conftest import code, create, unique


def said(version: str) -> bytes:
    return code(
        "def handler(event, context):\n"
        f"    return ['{version}', context.function_version, context.invoked_function_arn]\n"
    )


def invoke(lam: Any, name: str, qualifier: str | None = None) -> list[str]:
    extra = {"Qualifier": qualifier} if qualifier else {}
    response = lam.invoke(FunctionName=name, Payload=b"{}", **extra)
    assert "FunctionError" not in response, response["Payload"].read()
    result: list[str] = json.loads(response["Payload"].read())
    return result


def test_publish_and_invoke_each_version(lam: Any) -> None:
    name = unique()
    create(lam, name, said("one"))
    v1 = lam.publish_version(FunctionName=name, Description="first")
    assert v1["Version"] == "1"
    assert v1["FunctionArn"].endswith(f":{name}:1")
    # Publishing unchanged code and configuration returns the same version.
    assert lam.publish_version(FunctionName=name)["Version"] == "1"

    lam.update_function_code(FunctionName=name, ZipFile=said("two"))
    v2 = lam.publish_version(FunctionName=name)
    assert v2["Version"] == "2"

    assert invoke(lam, name, "1")[:2] == ["one", "1"]
    assert invoke(lam, name, "2")[:2] == ["two", "2"]
    assert invoke(lam, name)[:2] == ["two", "$LATEST"]
    assert invoke(lam, name, "1")[2].endswith(f":{name}:1")
    response = lam.invoke(FunctionName=f"{name}:1", Payload=b"{}")
    assert response["ExecutedVersion"] == "1"

    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    assert lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]["Version"] == "1"


def test_create_with_publish_and_update_with_publish(lam: Any) -> None:
    name = unique()
    assert create(lam, name, said("a"), Publish=True)["Version"] == "1"
    updated = lam.update_function_code(FunctionName=name, ZipFile=said("b"), Publish=True)
    assert updated["Version"] == "2"
    assert invoke(lam, name, "2")[0] == "b"


def test_missing_version_is_not_found(lam: Any) -> None:
    name = unique()
    create(lam, name)
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=name, Qualifier="9", Payload=b"{}")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_alias_crud_and_invoke(lam: Any) -> None:
    name = unique()
    create(lam, name, said("one"), Publish=True)
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1", Description="d")
    assert alias["AliasArn"].endswith(f":{name}:live")
    assert invoke(lam, name, "live")[:2] == ["one", "1"]
    assert invoke(lam, name, "live")[2].endswith(":live")

    lam.update_function_code(FunctionName=name, ZipFile=said("two"), Publish=True)
    updated = lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2")
    assert updated["RevisionId"] != alias["RevisionId"]
    assert invoke(lam, name, "live")[0] == "two"
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "2"
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["live"]

    with pytest.raises(ClientError) as excinfo:
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert excinfo.value.response["Error"]["Code"] == "ResourceConflictException"
    # A version an alias points at cannot be deleted.
    with pytest.raises(ClientError) as excinfo:
        lam.delete_function(FunctionName=name, Qualifier="2")
    assert excinfo.value.response["Error"]["Code"] == "ResourceConflictException"

    lam.delete_alias(FunctionName=name, Name="live")
    with pytest.raises(ClientError) as excinfo:
        lam.get_alias(FunctionName=name, Name="live")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
    lam.delete_function(FunctionName=name, Qualifier="2")
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1"]


def test_alias_weighted_routing_splits_traffic(lam: Any) -> None:
    name = unique()
    create(lam, name, said("one"), Publish=True)
    lam.update_function_code(FunctionName=name, ZipFile=said("two"), Publish=True)
    lam.create_alias(
        FunctionName=name,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
    )
    counts = Counter(invoke(lam, name, "canary")[1] for _ in range(400))
    assert set(counts) == {"1", "2"}
    # 400 draws at p=0.3: the share of version 2 lies within 0.3 +- 0.1 except with
    # probability below 1e-5 (binomial tail), so this checks the weighting, not luck.
    assert 0.2 < counts["2"] / 400 < 0.4


def test_routing_to_latest_is_refused(lam: Any) -> None:
    name = unique()
    create(lam, name, Publish=True)
    with pytest.raises(ClientError) as excinfo:
        lam.create_alias(
            FunctionName=name,
            Name="bad",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"$LATEST": 0.5}},
        )
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_versions_and_aliases_survive_a_restart(tmp_path: Any) -> None:
    from tests.gateway.conftest import start_server

    first = start_server(tmp_path / "data")
    try:
        lam = first.client()
        create(lam, "kept", said("one"), Publish=True)
        lam.create_alias(FunctionName="kept", Name="prod", FunctionVersion="1")
    finally:
        first.stop()
    second = start_server(tmp_path / "data")
    try:
        assert invoke(second.client(), "kept", "prod")[:2] == ["one", "1"]
    finally:
        second.stop()
