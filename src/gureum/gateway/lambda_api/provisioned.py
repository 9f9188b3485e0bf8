"""Provisioned concurrency settings."""

from __future__ import annotations

from typing import Any

from .core import (
    LambdaContext,
    operation,
    paginate,
)

# -- provisioned concurrency ------------------------------------------------------------------


@operation
async def put_provisioned_concurrency_config(
    ctx: LambdaContext, p: dict[str, Any]
) -> dict[str, Any]:
    name, _ = ctx.name_of(p["FunctionName"])
    return await ctx.platform.provisioning.put(
        name, p["Qualifier"], p["ProvisionedConcurrentExecutions"]
    )


@operation
async def get_provisioned_concurrency_config(
    ctx: LambdaContext, p: dict[str, Any]
) -> dict[str, Any]:
    name, _ = ctx.name_of(p["FunctionName"])
    ctx.platform.config(name)
    return ctx.platform.provisioning.describe(name, p["Qualifier"])


@operation
async def delete_provisioned_concurrency_config(
    ctx: LambdaContext, p: dict[str, Any]
) -> dict[str, Any]:
    name, _ = ctx.name_of(p["FunctionName"])
    await ctx.platform.provisioning.delete(name, p["Qualifier"])
    return {}


@operation
async def list_provisioned_concurrency_configs(
    ctx: LambdaContext, p: dict[str, Any]
) -> dict[str, Any]:
    name, _ = ctx.name_of(p["FunctionName"])
    settings = ctx.platform.provisioning.list(name)  # by qualifier
    page, more = paginate(p, settings, lambda setting: setting[0], str)
    configs = [
        {"FunctionArn": f"{ctx.arn(name)}:{qualifier}", **described}
        for qualifier, described in page
    ]
    return {"ProvisionedConcurrencyConfigs": configs, **more}
