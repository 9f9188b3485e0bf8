"""`gureum versions`, `gureum publish` and `gureum alias ...`: releases of a function.

A published version is an immutable snapshot of $LATEST; an alias names one version and may send
a share of its invocations to a second one (``--weight 3=0.1``), for canary releases.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from botocore.exceptions import ClientError
from rich.table import Table

from .client import (
    DEFAULT_ENDPOINT,
    Endpoint,
    FunctionName,
    Profile,
    error_code,
    lambda_client,
)
from .console import (
    AsJson,
    Yes,
    confirm_or_stop,
    local_time,
    note,
    out,
    sha256_hex,
)

alias_app = typer.Typer(
    help="Name a function's versions, and split traffic between two of them.",
    no_args_is_help=True,
)

AliasName = Annotated[str, typer.Argument(metavar="ALIAS", help="The alias's name, e.g. live.")]
Description = Annotated[str | None, typer.Option(help="What it is for.")]
Weight = Annotated[
    str | None,
    typer.Option(
        metavar="VERSION=SHARE",
        help="Send this share (0.0-1.0) of the alias's invocations to a second version, "
        "e.g. 3=0.1.",
    ),
]


def _version_summary(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": config["Version"],
        "arn": config["FunctionArn"],
        "sha256": sha256_hex(config.get("CodeSha256", "")),
        "codeSize": config.get("CodeSize"),
        "lastModified": config.get("LastModified"),
        "description": config.get("Description", ""),
    }


def _alias_summary(alias: dict[str, Any]) -> dict[str, Any]:
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return {
        "name": alias["Name"],
        "arn": alias["AliasArn"],
        "version": alias["FunctionVersion"],
        "weights": weights,
        "description": alias.get("Description", ""),
        "revisionId": alias.get("RevisionId"),
    }


def list_versions(client: Any, name: str) -> list[dict[str, Any]]:
    """$LATEST, then the published versions, oldest first."""
    pages = client.get_paginator("list_versions_by_function").paginate(FunctionName=name)
    return [v for page in pages for v in page["Versions"]]


def publish_version(
    client: Any, name: str, description: str | None = None, code_sha256: str | None = None
) -> tuple[dict[str, Any], bool]:
    """Publish $LATEST; returns the version and whether it is new (Lambda returns the newest
    version instead when nothing changed since it). ``code_sha256`` (Lambda's base64) makes the
    server refuse if $LATEST holds other code than the caller just uploaded."""
    before = {v["Version"] for v in list_versions(client, name)}
    request: dict[str, Any] = {"FunctionName": name}
    if description is not None:
        request["Description"] = description
    if code_sha256 is not None:
        request["CodeSha256"] = code_sha256
    version: dict[str, Any] = client.publish_version(**request)
    return version, version["Version"] not in before


def point_alias(client: Any, name: str, alias: str, version: str) -> tuple[dict[str, Any], str]:
    """Point ``alias`` at ``version`` alone (weights cleared), creating it if need be; returns
    the alias and what was done: "created", "updated" or "unchanged"."""
    try:
        current = client.get_alias(FunctionName=name, Name=alias)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        created = client.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)
        return created, "created"
    if current["FunctionVersion"] == version and not _alias_summary(current)["weights"]:
        return current, "unchanged"
    updated = client.update_alias(
        FunctionName=name,
        Name=alias,
        FunctionVersion=version,
        RoutingConfig={"AdditionalVersionWeights": {}},
    )
    return updated, "updated"


# --- versions and publish --------------------------------------------------------------------


def versions(
    name: FunctionName,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """List a function's $LATEST and published versions."""
    with lambda_client(endpoint, profile) as client:
        found = [_version_summary(v) for v in list_versions(client, name)]
    if as_json:
        typer.echo(json.dumps({"versions": found}))
        return
    table = Table("version", "code sha256", "last modified", "description", box=None)
    for v in found:
        table.add_row(
            v["version"], v["sha256"][:12], local_time(v["lastModified"] or ""), v["description"]
        )
    out.print(table)


def publish(
    name: FunctionName,
    description: Description = None,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """Publish $LATEST as a new version: prints its number.

    If nothing changed since the newest version, that one's number is printed instead (as
    Lambda returns it).
    """
    with lambda_client(endpoint, profile) as client:
        version, is_new = publish_version(client, name, description)
    summary = {**_version_summary(version), "new": is_new}
    if as_json:
        typer.echo(json.dumps(summary))
        return
    if is_new:
        note(f"published {name} version {summary['version']}")
    else:
        note(f"{name} has not changed since version {summary['version']}: nothing published")
    typer.echo(summary["version"])


# --- aliases ---------------------------------------------------------------------------------


def parse_weight(text: str) -> dict[str, float]:
    """``--weight 3=0.1`` -> {"3": 0.1}: Lambda's AdditionalVersionWeights."""
    version, sep, share = text.partition("=")
    version = version.strip()
    try:
        weight = float(share)
    except ValueError:
        weight = -1.0
    if not sep or not version.isdigit() or not 0.0 <= weight <= 1.0:
        raise typer.BadParameter(
            f"expected VERSION=SHARE with a published version and a share from 0.0 to 1.0, "
            f"got {text!r}",
            param_hint="--weight",
        )
    return {version: weight}


def _print_alias(alias: dict[str, Any], action: str, as_json: bool) -> None:
    summary = _alias_summary(alias)
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(f"{action} {summary['name']} -> {_routing_text(summary)}")


def _routing_text(summary: dict[str, Any]) -> str:
    weights: dict[str, float] = summary["weights"]
    if not weights:
        return str(summary["version"])
    rest = 1.0 - sum(weights.values())
    shares = [f"{summary['version']} ({_percent(rest)})"]
    shares += [f"{v} ({_percent(w)})" for v, w in weights.items()]
    return ", ".join(shares)


def _percent(share: float) -> str:
    return f"{share * 100:g}%"  # :g, so that 0.1 shows as 10%, not 10.000000000000002%


@alias_app.command("create")
def create_alias(
    name: FunctionName,
    alias: AliasName,
    version: Annotated[str, typer.Option(help="The version it names (a number, or $LATEST).")],
    weight: Weight = None,
    description: Description = None,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """Create an alias for one of a function's versions."""
    request: dict[str, Any] = {"FunctionName": name, "Name": alias, "FunctionVersion": version}
    if weight is not None:
        request["RoutingConfig"] = {"AdditionalVersionWeights": parse_weight(weight)}
    if description is not None:
        request["Description"] = description
    with lambda_client(endpoint, profile) as client:
        created = client.create_alias(**request)
    _print_alias(created, "created", as_json)


@alias_app.command("update")
def update_alias(
    name: FunctionName,
    alias: AliasName,
    version: Annotated[str | None, typer.Option(help="Name this version instead.")] = None,
    weight: Weight = None,
    no_weights: Annotated[
        bool, typer.Option("--no-weights", help="Send every invocation to --version's version.")
    ] = False,
    description: Description = None,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """Change which version an alias names, or how it splits invocations."""
    if weight is not None and no_weights:
        raise typer.BadParameter("give --weight or --no-weights, not both", param_hint="--weight")
    request: dict[str, Any] = {"FunctionName": name, "Name": alias}
    if version is not None:
        request["FunctionVersion"] = version
    if weight is not None:
        request["RoutingConfig"] = {"AdditionalVersionWeights": parse_weight(weight)}
    if no_weights:
        request["RoutingConfig"] = {"AdditionalVersionWeights": {}}
    if description is not None:
        request["Description"] = description
    if len(request) == 2:
        raise typer.BadParameter(
            "nothing to change: give --version, --weight, --no-weights or --description"
        )
    with lambda_client(endpoint, profile) as client:
        updated = client.update_alias(**request)
    _print_alias(updated, "updated", as_json)


@alias_app.command("rm")
def delete_alias(
    name: FunctionName,
    alias: AliasName,
    yes: Yes = False,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
) -> None:
    """Delete an alias (the versions stay).

    Asks first, unless --yes or stdin is not a terminal.
    """
    confirm_or_stop(f"Delete alias {alias} of {name}?", yes)
    with lambda_client(endpoint, profile) as client:
        client.delete_alias(FunctionName=name, Name=alias)
    typer.echo(f"deleted alias {alias} of {name}")


@alias_app.command("ls")
def list_aliases(
    name: FunctionName,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """List a function's aliases, the versions they name and their weights."""
    with lambda_client(endpoint, profile) as client:
        pages = client.get_paginator("list_aliases").paginate(FunctionName=name)
        found = [_alias_summary(a) for page in pages for a in page["Aliases"]]
    if as_json:
        typer.echo(json.dumps({"aliases": found}))
        return
    table = Table("alias", "version", "also routes to", "description", box=None)
    for a in found:
        extra = ", ".join(f"{v} ({_percent(w)})" for v, w in a["weights"].items())
        table.add_row(a["name"], a["version"], extra, a["description"])
    out.print(table)
