"""Commands that talk to a running `gureum serve` over its API: deploy, invoke, logs, ls, rm."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `gureum` command."""
