"""Layer versions."""

from __future__ import annotations

from typing import Any

from .core import (
    LambdaContext,
    operation,
    paginate,
    zip_file,
)

# -- layers -----------------------------------------------------------------------------------


@operation
async def publish_layer_version(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    return await ctx.platform.layers.publish(
        p["LayerName"],
        zip_file(p, "Content"),
        description=p.get("Description", ""),
        runtimes=p.get("CompatibleRuntimes"),
        license_info=p.get("LicenseInfo"),
    )


@operation
async def get_layer_version(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    return ctx.platform.layers.describe(p["LayerName"], int(p["VersionNumber"]))


@operation
async def list_layer_versions(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    versions = ctx.platform.layers.list_versions(p["LayerName"])
    runtime = p.get("CompatibleRuntime")
    if runtime:
        versions = [v for v in versions if runtime in v.get("CompatibleRuntimes", [])]
    page, more = paginate(p, versions, lambda v: int(v["Version"]), int, descending=True)
    return {"LayerVersions": page, **more}


@operation
async def list_layers(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    layers = ctx.platform.layers
    runtime = p.get("CompatibleRuntime")
    result = []
    for name in layers.names():
        versions = layers.list_versions(name)
        if runtime:
            versions = [v for v in versions if runtime in v.get("CompatibleRuntimes", [])]
        if versions:
            latest = versions[0]
            result.append(
                {"LayerName": name, "LayerArn": latest["LayerArn"], "LatestMatchingVersion": latest}
            )
    page, more = paginate(p, result, lambda layer: str(layer["LayerName"]), str)
    return {"Layers": page, **more}


@operation
async def delete_layer_version(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    await ctx.platform.layers.delete(p["LayerName"], int(p["VersionNumber"]))
    return {}
