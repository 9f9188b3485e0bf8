"""`gureum ls` and `gureum rm`: the functions a gureum holds."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from .client import (
    DEFAULT_ENDPOINT,
    Endpoint,
    FunctionName,
    Profile,
    lambda_client,
)
from .console import AsJson, Yes, confirm_or_stop, local_time, out, size


def ls(
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """List the functions."""
    with lambda_client(endpoint, profile) as client:
        pages = client.get_paginator("list_functions").paginate()
        functions = [f for page in pages for f in page["Functions"]]
    if as_json:
        listed = [
            {
                "name": f["FunctionName"],
                "arn": f["FunctionArn"],
                "runtime": f.get("Runtime"),
                "handler": f.get("Handler"),
                "memorySize": f.get("MemorySize"),
                "timeout": f.get("Timeout"),
                "lastModified": f.get("LastModified"),
                "codeSize": f.get("CodeSize"),
                "description": f.get("Description", ""),
                "layers": [layer["Arn"] for layer in f.get("Layers", [])],
            }
            for f in functions
        ]
        typer.echo(json.dumps({"functions": listed}))
        return
    table = Table("name", "runtime", "memory", "timeout", "last modified", "code size", box=None)
    for f in functions:
        table.add_row(
            f["FunctionName"],
            f.get("Runtime", ""),
            f"{f.get('MemorySize', '')} MB",
            f"{f.get('Timeout', '')} s",
            local_time(f.get("LastModified", "")),
            size(f.get("CodeSize", 0)),
        )
    out.print(table)


def rm(
    name: FunctionName,
    yes: Yes = False,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
) -> None:
    """Delete a function, with its versions and aliases.

    Asks first, unless --yes or stdin is not a terminal.
    """
    confirm_or_stop(f"Delete function {name}?", yes)
    with lambda_client(endpoint, profile) as client:
        client.delete_function(FunctionName=name)
    typer.echo(f"deleted {name}")
