"""Published versions and aliases."""

from __future__ import annotations

import base64
from typing import Any

from ...types import LATEST, FunctionConfig
from .core import (
    LambdaContext,
    PreconditionFailedException,
    check_revision,
    configuration,
    operation,
    paginate,
)

# -- versions and aliases ---------------------------------------------------------------------


@operation
async def publish_version(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, _ = ctx.name_of(p["FunctionName"])
    latest = ctx.platform.config(name)
    check_revision(latest, p)
    expect = p.get("CodeSha256")
    if expect is not None:
        expect = base64.b64decode(expect).hex()
    version = await ctx.platform.versions.publish(name, p.get("Description"), expect)
    return configuration(ctx, version)


@operation
async def list_versions_by_function(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, _ = ctx.name_of(p["FunctionName"])
    versions = ctx.platform.versions.list(name)  # $LATEST, then 1, 2, ...
    page, more = paginate(p, versions, _version_order, int)
    return {"Versions": [configuration(ctx, v) for v in page], **more}


def _version_order(config: FunctionConfig) -> int:
    return 0 if config.version == LATEST else int(config.version)


def alias_out(ctx: LambdaContext, name: str, alias: dict[str, Any]) -> dict[str, Any]:
    result = {
        "AliasArn": f"{ctx.arn(name)}:{alias['Name']}",
        "Name": alias["Name"],
        "FunctionVersion": alias["FunctionVersion"],
        "Description": alias.get("Description", ""),
        "RevisionId": alias["RevisionId"],
    }
    if alias.get("RoutingConfig"):
        result["RoutingConfig"] = alias["RoutingConfig"]
    return result


def _routing(p: dict[str, Any]) -> dict[str, Any] | None:
    routing = p.get("RoutingConfig")
    if routing is None:
        return None
    weights = routing.get("AdditionalVersionWeights") or {}
    return {"AdditionalVersionWeights": weights} if weights else {}


@operation
async def create_alias(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, _ = ctx.name_of(p["FunctionName"])
    alias = await ctx.platform.aliases.create(
        name, p["Name"], p["FunctionVersion"], p.get("Description", ""), _routing(p)
    )
    return alias_out(ctx, name, alias)


@operation
async def get_alias(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, _ = ctx.name_of(p["FunctionName"])
    return alias_out(ctx, name, ctx.platform.aliases.get(name, p["Name"]))


@operation
async def update_alias(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, _ = ctx.name_of(p["FunctionName"])
    current = ctx.platform.aliases.get(name, p["Name"])
    if p.get("RevisionId") not in (None, current["RevisionId"]):
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
        )
    alias = await ctx.platform.aliases.update(
        name, p["Name"], p.get("FunctionVersion"), p.get("Description"), _routing(p)
    )
    return alias_out(ctx, name, alias)


@operation
async def delete_alias(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, _ = ctx.name_of(p["FunctionName"])
    await ctx.platform.aliases.delete(name, p["Name"])
    return {}


@operation
async def list_aliases(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, _ = ctx.name_of(p["FunctionName"])
    aliases = ctx.platform.aliases.list(name)
    version = p.get("FunctionVersion")
    if version:
        aliases = [a for a in aliases if a["FunctionVersion"] == version]
    page, more = paginate(p, aliases, lambda a: str(a["Name"]), str)
    return {"Aliases": [alias_out(ctx, name, a) for a in page], **more}
