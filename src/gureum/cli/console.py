"""How the remote commands print: tables and results on stdout, progress and errors on stderr."""

from __future__ import annotations

import base64
import datetime
import sys
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

out = Console()
err = Console(stderr=True)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` as an error and exit with ``code`` (1: refused, 2: bad input)."""
    # soft_wrap: a long ARN or path stays on one line, whole, for the user to copy.
    err.print(f"[red]error[/red]: {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    err.print(f"[yellow]warning[/yellow]: {escape(message)}", highlight=False, soft_wrap=True)


def note(message: str) -> None:
    """A line of progress on stderr, where it stays out of what a script reads."""
    err.print(escape(message), highlight=False, soft_wrap=True)


def confirm_or_stop(question: str, yes: bool) -> None:
    """Ask ``question`` when a person is there to answer (stdin a terminal) and not ``yes``."""
    if not yes and sys.stdin.isatty() and not typer.confirm(question):
        fail("not deleted")


def size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def local_time(stamp: str) -> str:
    """Lambda's ``2024-01-01T12:00:00.000+0000``, shown in local time to the second."""
    try:
        moment = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return stamp
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def sha256_hex(lambda_sha: str) -> str:
    """Lambda reports SHA-256 digests base64-encoded; gureum shows them in hex, as sha256sum."""
    try:
        return base64.b64decode(lambda_sha, validate=True).hex()
    except ValueError:
        return lambda_sha
