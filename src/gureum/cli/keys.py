"""`gureum keys ...`: access keys for signed (SigV4) requests."""

from __future__ import annotations

import typer

app = typer.Typer(help="Manage the access keys gureum accepts for signed requests.")
