"""Marker, MaxItems and NextMarker on every listing, walked with boto3's own paginators."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_zip
from tests.gateway.conftest import code, create, error_of, unique


def walk(lam: Any, operation: str, result_key: str, page_size: int, **params: Any) -> list[Any]:
    """Every page boto3's paginator fetches, each no longer than ``page_size``."""
    pages = lam.get_paginator(operation).paginate(
        **params, PaginationConfig={"PageSize": page_size}
    )
    found = [page[result_key] for page in pages]
    assert all(len(page) <= page_size for page in found)
    return found


@pytest.fixture(scope="module")
def aliased(lam: Any) -> str:
    """A function with versions 1 and 2 and five aliases: a, b, c on 1; d, e on 2."""
    name = unique("paged")
    create(lam, name, Publish=True)
    lam.update_function_code(FunctionName=name, ZipFile=code("def handler(e, c):\n    pass\n"))
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    for alias, version in [("c", "1"), ("a", "1"), ("e", "2"), ("b", "1"), ("d", "2")]:
        lam.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)
    return name


@pytest.fixture(scope="module")
def layer(lam: Any) -> str:
    """A layer with versions 1 to 5."""
    name = unique("paged-layer")
    for n in range(5):
        lam.publish_layer_version(
            LayerName=name,
            Content={"ZipFile": make_zip({"n.txt": str(n)})},
            CompatibleRuntimes=["python3.12"] if n % 2 else [],
        )
    return name


def test_aliases_are_walked_in_pages(lam: Any, aliased: str) -> None:
    pages = walk(lam, "list_aliases", "Aliases", 2, FunctionName=aliased)
    assert [[a["Name"] for a in page] for page in pages] == [["a", "b"], ["c", "d"], ["e"]]
    on_one = walk(lam, "list_aliases", "Aliases", 2, FunctionName=aliased, FunctionVersion="1")
    assert [[a["Name"] for a in page] for page in on_one] == [["a", "b"], ["c"]]


def test_max_items_and_next_marker_on_the_wire(lam: Any, aliased: str) -> None:
    first = lam.list_aliases(FunctionName=aliased, MaxItems=3)
    assert [a["Name"] for a in first["Aliases"]] == ["a", "b", "c"]
    rest = lam.list_aliases(FunctionName=aliased, MaxItems=3, Marker=first["NextMarker"])
    assert [a["Name"] for a in rest["Aliases"]] == ["d", "e"]
    assert "NextMarker" not in rest
    # A page that holds everything has no NextMarker either.
    assert "NextMarker" not in lam.list_aliases(FunctionName=aliased, MaxItems=5)


def test_a_paginators_max_items_stops_and_resumes(lam: Any, aliased: str) -> None:
    paginator = lam.get_paginator("list_aliases")
    config = {"MaxItems": 3, "PageSize": 2}
    first = paginator.paginate(FunctionName=aliased, PaginationConfig=config).build_full_result()
    assert [a["Name"] for a in first["Aliases"]] == ["a", "b", "c"]
    resumed = paginator.paginate(
        FunctionName=aliased, PaginationConfig={**config, "StartingToken": first["NextToken"]}
    ).build_full_result()
    assert [a["Name"] for a in resumed["Aliases"]] == ["d", "e"]
    assert "NextToken" not in resumed


def test_a_marker_survives_changes_between_pages(lam: Any) -> None:
    name = unique("paged")
    create(lam, name, Publish=True)
    for alias in ["b", "d", "f", "h"]:
        lam.create_alias(FunctionName=name, Name=alias, FunctionVersion="1")
    first = lam.list_aliases(FunctionName=name, MaxItems=2)
    assert [a["Name"] for a in first["Aliases"]] == ["b", "d"]
    # The one just handed out goes, one before the marker and one after it come.
    lam.delete_alias(FunctionName=name, Name="d")
    lam.create_alias(FunctionName=name, Name="a", FunctionVersion="1")
    lam.create_alias(FunctionName=name, Name="g", FunctionVersion="1")
    rest = lam.list_aliases(FunctionName=name, Marker=first["NextMarker"])
    assert [a["Name"] for a in rest["Aliases"]] == ["f", "g", "h"]


def test_versions_are_walked_in_pages(lam: Any, aliased: str) -> None:
    pages = walk(lam, "list_versions_by_function", "Versions", 2, FunctionName=aliased)
    assert [[v["Version"] for v in page] for page in pages] == [["$LATEST", "1"], ["2"]]
    pages = walk(lam, "list_versions_by_function", "Versions", 1, FunctionName=aliased)
    assert [[v["Version"] for v in page] for page in pages] == [["$LATEST"], ["1"], ["2"]]


def test_layer_versions_are_walked_newest_first(lam: Any, layer: str) -> None:
    pages = walk(lam, "list_layer_versions", "LayerVersions", 2, LayerName=layer)
    assert [[v["Version"] for v in page] for page in pages] == [[5, 4], [3, 2], [1]]
    matching = walk(
        lam,
        "list_layer_versions",
        "LayerVersions",
        1,
        LayerName=layer,
        CompatibleRuntime="python3.12",
    )
    assert [[v["Version"] for v in page] for page in matching] == [[4], [2]]
    latest = lam.list_layer_versions(LayerName=layer, MaxItems=1)
    assert [v["Version"] for v in latest["LayerVersions"]] == [5]
    assert latest["NextMarker"]


def test_layers_are_walked_each_once(lam: Any, layer: str) -> None:
    others = sorted(unique("paged-layer") for _ in range(3))
    for other in others:
        lam.publish_layer_version(LayerName=other, Content={"ZipFile": make_zip({"x": "x"})})
    pages = walk(lam, "list_layers", "Layers", 2)
    names = [entry["LayerName"] for page in pages for entry in page]
    assert len(names) == len(set(names))
    assert {layer, *others} <= set(names)
    assert names == sorted(names)
    latest = {entry["LayerName"]: entry for page in pages for entry in page}[layer]
    assert latest["LatestMatchingVersion"]["Version"] == 5


def test_provisioned_configs_are_walked_in_pages(lam: Any) -> None:
    name = unique("paged")
    create(lam, name, Publish=True)
    for alias in ["x", "y", "z"]:
        lam.create_alias(FunctionName=name, Name=alias, FunctionVersion="1")
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=alias, ProvisionedConcurrentExecutions=1
        )
    pages = walk(
        lam,
        "list_provisioned_concurrency_configs",
        "ProvisionedConcurrencyConfigs",
        2,
        FunctionName=name,
    )
    qualifiers = [[c["FunctionArn"].rsplit(":", 1)[1] for c in page] for page in pages]
    assert qualifiers == [["x", "y"], ["z"]]
    for alias in ["x", "y", "z"]:
        lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=alias)


@pytest.mark.parametrize(
    ("operation", "params", "wrong_kind"),
    [
        # 123 where a name belongs, "a" where a version number does (base64 JSON, as gureum's).
        ("list_functions", {}, "MTIz"),
        ("list_aliases", {"FunctionName": "{aliased}"}, "MTIz"),
        ("list_versions_by_function", {"FunctionName": "{aliased}"}, "ImEi"),
        ("list_layers", {}, "MTIz"),
        ("list_layer_versions", {"LayerName": "{layer}"}, "ImEi"),
        ("list_provisioned_concurrency_configs", {"FunctionName": "{aliased}"}, "MTIz"),
    ],
)
def test_a_marker_gureum_did_not_hand_out_is_refused(
    lam: Any, aliased: str, layer: str, operation: str, params: dict[str, str], wrong_kind: str
) -> None:
    filled = {key: value.format(aliased=aliased, layer=layer) for key, value in params.items()}
    # Garbage, base64 of something not JSON ("nope"), and a key of the wrong kind.
    for marker in ["not a marker!", "bm9wZQ", wrong_kind]:
        with pytest.raises(ClientError) as excinfo:
            getattr(lam, operation)(**filled, Marker=marker)
        error_type, status, message = error_of(excinfo)
        assert (error_type, status) == ("InvalidParameterValueException", 400)
        assert message.startswith(f"Invalid Marker: '{marker}'")


def test_a_page_size_beyond_a_listings_maximum_is_refused(lam: Any, layer: str) -> None:
    # ListLayerVersions allows 50 a page, ListVersionsByFunction 10000 (botocore's model).
    with pytest.raises(ClientError) as excinfo:
        lam.list_layer_versions(LayerName=layer, MaxItems=51)
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
