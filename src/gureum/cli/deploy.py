"""`gureum deploy`: package a folder or a SAM template's functions, and create or update them.

In order: the template's layers are published (skipped when unchanged), each function's code is
packaged and uploaded with its settings, and a function with an alias (gureum.yaml's ``alias``,
SAM's ``AutoPublishAlias``) gets a version published and the alias pointed at it; last, the
routes, schedules, function URLs and async settings the file names are made to match it
(``wiring``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import ClientError
from rich.markup import escape
from rich.table import Table

from .backing import create_buckets_and_queues, wire_mappings, wire_notifications
from .client import (
    DEFAULT_ENDPOINT,
    ApiError,
    Endpoint,
    Profile,
    connect,
    error_code,
    reporting_errors,
)
from .console import AsJson, err, fail, note, out, size, warn
from .layers import LayerContentError, layer_content, publish_layer, python_layer_content
from .manifest import FunctionSpec, LayerSpec, ManifestError, load
from .packaging import PackagingError, package
from .versions import point_alias, publish_version
from .wiring import wire

# CreateFunction requires a role; gureum does not use it.
PLACEHOLDER_ROLE = "arn:aws:iam::000000000000:role/gureum-function"
WAITER_CONFIG = {"Delay": 1, "MaxAttempts": 120}


def deploy(
    path: Annotated[
        Path,
        typer.Argument(
            help="A folder of handler code (optional requirements.txt and gureum.yaml), "
            "a SAM template.yaml, or a folder holding one.",
            exists=True,
        ),
    ],
    name: Annotated[str | None, typer.Option(help="Deploy under this name.")] = None,
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack-name",
            envvar="GUREUM_STACK_NAME",
            help="A template's deployment name: owns its routes and names its schedule group "
            "(default: the template's folder). A folder's is its function's name.",
        ),
    ] = None,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """Create the function(s), or update code and configuration of those that exist.

    A template's layers are published first (unless unchanged); a function with an alias
    (gureum.yaml's `alias`, SAM's AutoPublishAlias) gets a version published and the alias
    pointed at it.
    """
    try:
        deployment = load(path, name, stack)
    except ManifestError as exc:
        fail(str(exc), code=2)
    for warning in deployment.warnings:
        warn(warning)
    remote = connect(endpoint, profile)
    client = remote.lambda_client()
    layers: dict[LayerSpec, dict[str, Any]] = {}
    packages: dict[Path, bytes] = {}  # functions of one template may share a folder
    summaries = []
    with reporting_errors(endpoint):
        backing: dict[str, Any] = {"buckets": [], "queues": {}}
        if deployment.buckets or deployment.queues:
            with err.status("Creating buckets and queues"):
                backing = create_buckets_and_queues(remote, deployment)
        for layer in deployment.layers:
            layers[layer] = _publish_layer(client, layer)
        for spec in deployment.functions:
            if spec.code_dir not in packages:
                with err.status(f"Packaging {escape(str(spec.code_dir))}"):
                    try:
                        packages[spec.code_dir] = package(spec.code_dir)
                    except PackagingError as exc:
                        fail(str(exc))
            code = packages[spec.code_dir]
            arns = [
                layer if isinstance(layer, str) else layers[layer]["arn"] for layer in spec.layers
            ]
            with err.status(f"Uploading {escape(spec.name)} ({size(len(code))})"):
                summary = _create_or_update(client, spec, code, arns)
            note(f"{summary['action']} {spec.name}")
            if spec.alias is not None:
                summary.update(_release(client, spec, spec.alias, code))
            summaries.append(summary)
        with err.status("Wiring routes, schedules, URLs, notifications, queues"):
            function_arns = {s["name"]: s["arn"] for s in summaries}
            wired = wire(remote, deployment, function_arns)
            wired["notifications"] = wire_notifications(remote, deployment, function_arns)
            wired["mappings"] = wire_mappings(remote, deployment, function_arns, backing["queues"])
            wired.update(backing)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "functions": summaries,
                    "layers": list(layers.values()),
                    "warnings": deployment.warnings,
                    **wired,
                }
            )
        )
        return
    _print_tables(list(layers.values()), summaries)
    _print_wiring(wired)


def _publish_layer(client: Any, layer: LayerSpec) -> dict[str, Any]:
    """Publish a template's layer, unless its newest version already holds the same."""
    with err.status(f"Packaging layer {escape(layer.name)}"):
        try:
            if layer.python_build:
                content = python_layer_content(layer.content)
            else:
                content = layer_content(layer.content)
        except (LayerContentError, PackagingError) as exc:
            fail(str(exc))
    with err.status(f"Uploading layer {escape(layer.name)} ({size(len(content))})"):
        version, is_new = publish_layer(
            client,
            layer.name,
            content,
            description=layer.description,
            runtimes=list(layer.runtimes),
            license_info=layer.license_info,
            reuse=True,
        )
    action = "published" if is_new else "unchanged"
    note(f"layer {layer.name}: version {version['Version']} ({action})")
    return {
        "logicalId": layer.logical_id,
        "name": layer.name,
        "action": action,
        "version": version["Version"],
        "arn": version["LayerVersionArn"],
        "codeSize": len(content),
    }


def _create_or_update(
    client: Any, spec: FunctionSpec, code: bytes, layers: list[str]
) -> dict[str, Any]:
    """Create ``spec``'s function, or update it: its code (when it changed), then its settings."""
    settings = {
        "Runtime": spec.runtime,
        "Handler": spec.handler,
        "MemorySize": spec.memory_mb,
        "Timeout": spec.timeout_s,
        "Environment": {"Variables": spec.env},
        "Description": spec.description,
        # Always sent: layers taken out of the manifest are taken off the function.
        "Layers": layers,
        "SnapStart": {"ApplyOn": spec.snap_start},
    }
    digest = hashlib.sha256(code).digest()
    try:
        current = client.get_function_configuration(FunctionName=spec.name)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        result = client.create_function(
            FunctionName=spec.name, Role=PLACEHOLDER_ROLE, Code={"ZipFile": code}, **settings
        )
        _wait(client, "function_active_v2", spec.name)
        action = "created"
    else:
        action = "updated"
        if current.get("CodeSha256") == base64.b64encode(digest).decode():
            action = "updated (code unchanged)"
        else:
            client.update_function_code(FunctionName=spec.name, ZipFile=code)
            _wait(client, "function_updated_v2", spec.name)
        result = client.update_function_configuration(FunctionName=spec.name, **settings)
        _wait(client, "function_updated_v2", spec.name)
    if result.get("CodeSha256") != base64.b64encode(digest).decode():
        raise ApiError("CodeMismatch", "the server holds other code than was uploaded")
    return {
        "name": result["FunctionName"],
        "action": action,
        "arn": result["FunctionArn"],
        "runtime": result.get("Runtime"),
        "handler": result.get("Handler"),
        "memorySize": result.get("MemorySize"),
        "timeout": result.get("Timeout"),
        "codeSize": result.get("CodeSize", len(code)),
        "sha256": digest.hex(),
        "lastModified": result.get("LastModified"),
        "layers": [layer["Arn"] for layer in result.get("Layers", [])],
    }


def _wait(client: Any, waiter: str, name: str) -> None:
    client.get_waiter(waiter).wait(FunctionName=name, WaiterConfig=WAITER_CONFIG)


def _release(client: Any, spec: FunctionSpec, alias_name: str, code: bytes) -> dict[str, Any]:
    """Publish what was just deployed and point ``alias_name`` at it, alone: as SAM's
    AutoPublishAlias, a redeploy replaces any weights the alias had."""
    expected = base64.b64encode(hashlib.sha256(code).digest()).decode()
    with err.status(f"Publishing {escape(spec.name)}"):
        version, is_new = publish_version(
            client, spec.name, spec.version_description, code_sha256=expected
        )
        alias, action = point_alias(client, spec.name, alias_name, version["Version"])
    published = "published" if is_new else "unchanged"
    note(f"{spec.name}: version {version['Version']} ({published}), alias {alias_name} {action}")
    return {"version": version["Version"], "alias": alias_name, "aliasArn": alias["AliasArn"]}


def _print_wiring(wired: dict[str, Any]) -> None:
    if wired["routes"]:
        table = Table("route", "function", "payload", box=None)
        for route in wired["routes"]:
            table.add_row(route["route"], route["function"], route["payloadFormat"])
        out.print(table)
    if wired["schedules"]:
        table = Table(f"schedule ({wired['stack']})", "expression", "next fire (UTC)", box=None)
        for schedule in wired["schedules"]:
            fire = schedule["nextFire"]
            when = "-" if fire is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(fire))
            table.add_row(schedule["name"], schedule["expression"], when)
        out.print(table)
    for function, url in wired["urls"].items():
        out.print(f"{function}: {url}", highlight=False, soft_wrap=True)


def _print_tables(layers: list[dict[str, Any]], functions: list[dict[str, Any]]) -> None:
    if layers:
        table = Table("layer", "version", "code size", box=None)
        table.add_column("arn", overflow="fold")  # folded, never cut: it is there to be copied
        for layer in layers:
            table.add_row(
                layer["name"], str(layer["version"]), size(layer["codeSize"]), layer["arn"]
            )
        out.print(table)
    if not functions:
        return
    with_alias = any("alias" in f for f in functions)
    table = Table("name", "code size", "sha256", box=None)
    if with_alias:
        table.add_column("alias")
    table.add_column("arn", overflow="fold")
    for f in functions:
        row = [f["name"], size(f["codeSize"]), f["sha256"][:12]]
        if with_alias:
            row.append(f"{f['alias']} -> {f['version']}" if "alias" in f else "")
        table.add_row(*row, f["arn"])
    out.print(table)
