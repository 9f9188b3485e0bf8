"""`gureum keys ...`: access keys for signed (SigV4) requests.

Keys live in the server's data dir, so these commands run on the server's machine; a running
server sees a new or deleted key within a second, without a restart.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..store.keys import KeyStore
from .paths import default_data_dir

app = typer.Typer(
    help="Manage the access keys gureum accepts for signed requests.", no_args_is_help=True
)
out = Console()

DataDir = Annotated[
    Path | None,
    typer.Option(envvar="GUREUM_DATA_DIR", help="The server's data dir (as for `gureum serve`)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _open(data_dir: Path | None) -> KeyStore:
    return KeyStore(data_dir or default_data_dir())


@app.command()
def create(
    description: Annotated[str, typer.Option(help="What the key is for.")] = "",
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Create a key: prints its id and its secret, which is shown this once only."""
    with _open(data_dir) as keys:
        key_id, secret = keys.create(description)
    if as_json:
        typer.echo(json.dumps({"accessKeyId": key_id, "secretAccessKey": secret}))
        return
    typer.echo(f"aws_access_key_id = {key_id}")
    typer.echo(f"aws_secret_access_key = {secret}")
    typer.echo("The secret is shown only now: store it (e.g. in ~/.aws/credentials).", err=True)


@app.command("list")
def list_keys(data_dir: DataDir = None, as_json: AsJson = False) -> None:
    """List the keys (never their secrets)."""
    with _open(data_dir) as keys:
        found = keys.list()
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(key) for key in found]))
        return
    table = Table("id", "created", "description", box=None)
    for key in found:
        table.add_row(key.id, key.created, key.description)
    out.print(table)


@app.command()
def delete(
    key_id: Annotated[str, typer.Argument(metavar="ID", help="The access key id.")],
    data_dir: DataDir = None,
) -> None:
    """Delete a key: requests signed with it are refused from then on. Exit 1 if none such."""
    with _open(data_dir) as keys:
        deleted = keys.delete(key_id)
    if not deleted:
        typer.echo(f"error: no access key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"deleted {key_id}")
