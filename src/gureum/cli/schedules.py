"""`gureum schedules ...`: the schedules that invoke functions, with their next fire times.

They use gureum's own endpoint (``/_gureum/schedules``), which also carries what the
EventBridge Scheduler API cannot: what to do about ticks missed while gureum was down.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from .client import DEFAULT_ENDPOINT, Endpoint, Profile, connect, reporting_errors
from .console import AsJson, out

app = typer.Typer(
    help="Schedules that invoke functions (rate, cron and at expressions).",
    no_args_is_help=True,
)
Group = Annotated[str, typer.Option(help="The schedule group.")]


@app.command("ls")
def list_schedules(
    group: Annotated[str | None, typer.Option(help="Only this group.")] = None,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """List the schedules and when each fires next (UTC)."""
    remote = connect(endpoint, profile)
    with reporting_errors(endpoint):
        listed = remote.get_json("/_gureum/schedules", {"group": group} if group else {})
    if as_json:
        typer.echo(json.dumps(listed))
        return
    table = Table("group", "name", "expression", "target", "state", "next fire (UTC)", box=None)
    for s in listed["schedules"]:
        expression = s["expression"]
        if s["timezone"] != "UTC":
            expression += f" [{s['timezone']}]"
        table.add_row(
            s["group"],
            s["name"],
            expression,
            s["target"].rsplit(":function:", 1)[-1],
            s["state"],
            _when(s["nextFire"]) if s["state"] == "ENABLED" else "-",
        )
    out.print(table)


@app.command("add")
def add_schedule(
    name: Annotated[str, typer.Argument(help="The schedule's name.")],
    expression: Annotated[
        str, typer.Argument(help="rate(5 minutes), cron(0 12 * * ? *) or at(2027-01-01T09:00:00).")
    ],
    function: Annotated[
        str, typer.Option("--function", "-f", help="The target: NAME or NAME:QUALIFIER.")
    ],
    group: Group = "default",
    timezone: Annotated[str, typer.Option(help="The time zone of cron and at.")] = "UTC",
    payload: Annotated[
        str | None,
        typer.Option("--input", help="The event (JSON); default EventBridge's Scheduled Event."),
    ] = None,
    catch_up: Annotated[
        str, typer.Option(help="After downtime: fire the latest missed tick 'once', or 'skip'.")
    ] = "once",
    disabled: Annotated[bool, typer.Option(help="Create it disabled.")] = False,
    description: Annotated[str, typer.Option(help="What it is for.")] = "",
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """Create or replace a schedule."""
    document: dict[str, Any] = {
        "expression": expression,
        "function": function,
        "timezone": timezone,
        "input": payload,
        "catchUp": catch_up,
        "state": "DISABLED" if disabled else "ENABLED",
        "description": description,
    }
    remote = connect(endpoint, profile)
    with reporting_errors(endpoint):
        schedule = remote.send_json("PUT", f"/_gureum/schedules/{group}/{name}", body=document)
    if as_json:
        typer.echo(json.dumps(schedule))
        return
    when = _when(schedule["nextFire"]) if not disabled else "never (disabled)"
    typer.echo(f"{group}/{name} -> {function}: next fire {when}")


@app.command("rm")
def remove_schedule(
    name: Annotated[str, typer.Argument(help="The schedule's name.")],
    group: Group = "default",
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
) -> None:
    """Delete a schedule."""
    remote = connect(endpoint, profile)
    with reporting_errors(endpoint):
        remote.send_json("DELETE", f"/_gureum/schedules/{group}/{name}")
    typer.echo(f"deleted {group}/{name}")


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "never (no more ticks)"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")
