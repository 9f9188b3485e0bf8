"""FunctionEventInvokeConfig: how asynchronous invocations of a function are delivered."""

from __future__ import annotations

from typing import Any

from ...events.invoke_config import EventInvokeConfig
from ...types import LATEST
from .core import LambdaContext, operation, paginate


def _target(ctx: LambdaContext, p: dict[str, Any]) -> tuple[str, str]:
    """(name, qualifier) of an existing function, version or alias."""
    name, in_name = ctx.name_of(p["FunctionName"])
    qualifier = p.get("Qualifier") or in_name or LATEST
    ctx.platform.resolve(name, qualifier)
    return name, qualifier


def _destinations(p: dict[str, Any]) -> tuple[str | None, str | None]:
    config = p.get("DestinationConfig") or {}
    return (
        (config.get("OnSuccess") or {}).get("Destination"),
        (config.get("OnFailure") or {}).get("Destination"),
    )


def describe(ctx: LambdaContext, config: EventInvokeConfig) -> dict[str, Any]:
    described: dict[str, Any] = {
        "LastModified": config.last_modified,
        "FunctionArn": f"{ctx.arn(config.function)}:{config.qualifier}",
        "DestinationConfig": {
            "OnSuccess": {"Destination": config.on_success} if config.on_success else {},
            "OnFailure": {"Destination": config.on_failure} if config.on_failure else {},
        },
    }
    # Lambda shows only the limits that were set.
    if config.retries_set:
        described["MaximumRetryAttempts"] = config.max_retries
    if config.age_set:
        described["MaximumEventAgeInSeconds"] = config.max_age_s
    return described


@operation
async def put_function_event_invoke_config(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = _target(ctx, p)
    on_success, on_failure = _destinations(p)
    config = await ctx.platform.events.put_config(
        name,
        qualifier,
        max_retries=p.get("MaximumRetryAttempts"),
        max_age_s=p.get("MaximumEventAgeInSeconds"),
        on_success=on_success,
        on_failure=on_failure,
    )
    return describe(ctx, config)


@operation
async def update_function_event_invoke_config(
    ctx: LambdaContext, p: dict[str, Any]
) -> dict[str, Any]:
    name, qualifier = _target(ctx, p)
    on_success, on_failure = _destinations(p)
    config = await ctx.platform.events.update_config(
        name,
        qualifier,
        max_retries=p.get("MaximumRetryAttempts"),
        max_age_s=p.get("MaximumEventAgeInSeconds"),
        on_success=on_success,
        on_failure=on_failure,
        destinations_given="DestinationConfig" in p,
    )
    return describe(ctx, config)


@operation
async def get_function_event_invoke_config(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = _target(ctx, p)
    return describe(ctx, ctx.platform.events.get_config(name, qualifier))


@operation
async def delete_function_event_invoke_config(
    ctx: LambdaContext, p: dict[str, Any]
) -> dict[str, Any]:
    name, qualifier = _target(ctx, p)
    await ctx.platform.events.delete_config(name, qualifier)
    return {}


@operation
async def list_function_event_invoke_configs(
    ctx: LambdaContext, p: dict[str, Any]
) -> dict[str, Any]:
    name, _ = ctx.name_of(p["FunctionName"])
    ctx.platform.config(name)
    configs = ctx.platform.events.list_configs(name)
    page, more = paginate(p, configs, lambda c: c.qualifier, str)
    return {"FunctionEventInvokeConfigs": [describe(ctx, c) for c in page], **more}
