"""`gureum layers ...`: publish, list and delete layers, the shared code functions mount at /opt.

A Python layer keeps its modules under ``python/`` (on ``sys.path`` in the function), as on AWS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .client import DEFAULT_ENDPOINT, Endpoint, Profile, connect, lambda_client, reporting_errors
from .console import AsJson, Yes, confirm_or_stop, err, fail, local_time, note, out, size
from .manifest.values import LAYER_NAME
from .packaging import REQUIREMENTS, SKIPPED_DIRS, vendor_requirements, zip_directory

app = typer.Typer(
    help="Publish, list and delete layers: shared code that functions mount at /opt.",
    no_args_is_help=True,
)


def _layer_name(value: str) -> str:
    if not LAYER_NAME.fullmatch(value):
        raise typer.BadParameter("letters, digits, - and _ only (at most 140)", param_hint="LAYER")
    return value


LayerName = Annotated[
    str,
    typer.Argument(metavar="LAYER", help="The layer's name.", callback=_layer_name),
]


class LayerContentError(Exception):
    """A layer's content cannot be read: the message says why."""


def layer_content(path: Path) -> bytes:
    """A layer's zip: a folder zipped as it is, or a .zip file taken as it is."""
    if path.is_dir():
        return zip_directory(path)
    if not path.is_file():
        raise LayerContentError(f"{path}: no such file or folder")
    if not zipfile.is_zipfile(path):
        raise LayerContentError(f"{path}: not a folder or a .zip file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LayerContentError(f"{path}: cannot be read: {exc}") from exc


def python_layer_content(folder: Path) -> bytes:
    """A layer built as `sam build` builds a python3.X one: ``folder``'s files, and the packages
    of its requirements.txt, under ``python/``."""
    with tempfile.TemporaryDirectory(prefix="gureum-layer-") as build:
        target = Path(build) / "python"
        target.mkdir()
        requirements = folder / REQUIREMENTS
        if requirements.is_file():
            vendor_requirements(requirements, target)
        # The folder's own files win over a vendored file of the same name.
        ignored = shutil.ignore_patterns(*SKIPPED_DIRS, "*.pyc")
        shutil.copytree(folder, target, ignore=ignored, dirs_exist_ok=True)
        return zip_directory(Path(build))


def publish_layer(
    client: Any,
    name: str,
    content: bytes,
    *,
    description: str = "",
    runtimes: list[str] | None = None,
    license_info: str | None = None,
    reuse: bool = False,
) -> tuple[dict[str, Any], bool]:
    """Publish ``content`` as the next version of layer ``name``; returns it and whether it is
    new. With ``reuse``, the newest version is returned instead if it holds the same content,
    description and runtimes (zips are reproducible, so an unchanged folder matches)."""
    if reuse:
        digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
        newest = _newest_version(client, name)
        if (
            newest is not None
            and newest.get("Content", {}).get("CodeSha256") == digest
            and newest.get("Description", "") == description
            and sorted(newest.get("CompatibleRuntimes", [])) == sorted(runtimes or [])
            and newest.get("LicenseInfo") == license_info
        ):
            return newest, False
    request: dict[str, Any] = {
        "LayerName": name,
        "Content": {"ZipFile": content},
        "Description": description,
    }
    if runtimes:
        request["CompatibleRuntimes"] = runtimes
    if license_info:
        request["LicenseInfo"] = license_info
    published: dict[str, Any] = client.publish_layer_version(**request)
    return published, True


def _newest_version(client: Any, name: str) -> dict[str, Any] | None:
    found = client.list_layer_versions(LayerName=name, MaxItems=1)["LayerVersions"]
    if not found:
        return None
    # ListLayerVersions leaves Content out on AWS; GetLayerVersion has it.
    newest: dict[str, Any] = client.get_layer_version(
        LayerName=name, VersionNumber=found[0]["Version"]
    )
    return newest


def _summary(name: str, version: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "version": version["Version"],
        "arn": version["LayerVersionArn"],
        "description": version.get("Description", ""),
        "runtimes": version.get("CompatibleRuntimes", []),
        "created": version.get("CreatedDate"),
    }


@app.command("publish")
def publish(
    layer: LayerName,
    path: Annotated[
        Path,
        typer.Argument(
            metavar="PATH", help="A folder (zipped as it is) or a .zip file.", exists=True
        ),
    ],
    runtime: Annotated[
        list[str] | None,
        typer.Option(help="A runtime it works with, e.g. python3.11 (repeatable)."),
    ] = None,
    description: Annotated[str, typer.Option(help="What it holds.")] = "",
    license_info: Annotated[
        str | None, typer.Option("--license", help="Its license, e.g. MIT.")
    ] = None,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """Publish a new version of a layer: prints its ARN, for a function's `layers:`."""
    try:
        content = layer_content(path)
    except LayerContentError as exc:
        fail(str(exc), code=2)
    remote = connect(endpoint, profile)
    status = err.status(f"Uploading layer {escape(layer)} ({size(len(content))})")
    with reporting_errors(endpoint), status:
        version, _ = publish_layer(
            remote.lambda_client(),
            layer,
            content,
            description=description,
            runtimes=runtime,
            license_info=license_info,
        )
    summary = {**_summary(layer, version), "codeSize": len(content)}
    if as_json:
        typer.echo(json.dumps(summary))
        return
    note(f"published layer {layer} version {summary['version']} ({size(len(content))})")
    typer.echo(summary["arn"])


@app.command("ls")
def ls(
    layer: Annotated[
        str | None,
        typer.Argument(metavar="[LAYER]", help="List this layer's versions instead."),
    ] = None,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """List the layers (each with its newest version), or one layer's versions."""
    if layer is not None:
        _layer_name(layer)
    with lambda_client(endpoint, profile) as client:
        if layer is None:
            pages = client.get_paginator("list_layers").paginate()
            found = [
                _summary(entry["LayerName"], entry["LatestMatchingVersion"])
                for page in pages
                for entry in page["Layers"]
            ]
        else:
            pages = client.get_paginator("list_layer_versions").paginate(LayerName=layer)
            found = [_summary(layer, v) for page in pages for v in page["LayerVersions"]]
    if as_json:
        typer.echo(json.dumps({"layers" if layer is None else "versions": found}))
        return
    table = Table("name", "version", "created", "runtimes", "description", box=None)
    table.add_column("arn", overflow="fold")  # folded, never cut: it is there to be copied
    for entry in found:
        table.add_row(
            entry["name"],
            str(entry["version"]),
            local_time(entry["created"] or ""),
            " ".join(entry["runtimes"]),
            entry["description"],
            entry["arn"],
        )
    out.print(table)


@app.command("rm")
def rm(
    layer: LayerName,
    version: Annotated[int, typer.Argument(metavar="VERSION", min=1, help="Its version.")],
    yes: Yes = False,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
) -> None:
    """Delete a version of a layer.

    Functions that use it keep it; no new one can take it. Asks first, unless --yes or stdin is
    not a terminal.
    """
    confirm_or_stop(f"Delete version {version} of layer {layer}?", yes)
    with lambda_client(endpoint, profile) as client:
        # DeleteLayerVersion succeeds for a version that is not there; say so instead.
        client.get_layer_version(LayerName=layer, VersionNumber=version)
        client.delete_layer_version(LayerName=layer, VersionNumber=version)
    typer.echo(f"deleted layer {layer} version {version}")
