"""Commands that talk to a running `gureum serve` over its API, one module per concern:

- ``client``: the connection (botocore, signed with the usual AWS credentials) and its errors;
- ``deploy``: `gureum deploy`;
- ``invoke``: `gureum invoke` and `gureum logs`;
- ``listing``: `gureum ls` and `gureum rm`;
- ``versions``: `gureum versions`, `gureum publish` and `gureum alias ...`;
- ``layers``: `gureum layers ...`;
- ``routes``: `gureum routes`;
- ``schedules``: `gureum schedules ...`.

They work against a remote gureum as against a local one. Exit codes: 0 done, 1 the server or
the function said no (or cannot be reached), 2 bad input.
"""

from __future__ import annotations

import typer

from . import deploy, invoke, layers, listing, routes, schedules, versions


def register(app: typer.Typer) -> None:
    """Add the remote commands to the `gureum` command."""
    app.command()(deploy.deploy)
    app.command()(invoke.invoke)
    app.command()(invoke.logs)
    app.command()(listing.ls)
    app.command()(listing.rm)
    app.command()(versions.versions)
    app.command()(versions.publish)
    app.add_typer(versions.alias_app, name="alias")
    app.add_typer(layers.app, name="layers")
    app.command()(routes.routes)
    app.add_typer(schedules.app, name="schedules")
