"""`gureum routes`: the HTTP routes a gureum serves on its user-facing listener."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from .client import DEFAULT_ENDPOINT, Endpoint, Profile, connect, reporting_errors
from .console import AsJson, out


def routes(
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """List the HTTP routes (set with PUT /_gureum/routes/{owner}), by owner."""
    remote = connect(endpoint, profile)
    with reporting_errors(endpoint):
        listed = remote.get_json("/_gureum/routes", {})["routes"]
    if as_json:
        typer.echo(json.dumps({"routes": listed}))
        return
    table = Table("owner", "route", "function", "payload", box=None)
    for route in listed:
        table.add_row(route["owner"], route["route"], route["function"], route["payloadFormat"])
    out.print(table)
