"""Function URL configs: a function's (or an alias's) own address on the user-facing listener."""

from __future__ import annotations

from typing import Any

from ...errors import InvalidParameterValueException
from ...http_endpoints import UrlConfig
from ...types import LATEST
from .core import LambdaContext, operation, paginate, target


def _target(ctx: LambdaContext, p: dict[str, Any]) -> tuple[str, str | None]:
    name, qualifier = target(ctx, p)
    if qualifier == LATEST:
        return name, None  # the unqualified function, as Lambda treats $LATEST here
    if qualifier is not None and qualifier.isdigit():
        # Lambda gives URLs to aliases only: a version's URL could never change what it runs.
        raise InvalidParameterValueException(
            "Function URLs are for the unqualified function or an alias, not a version"
        )
    return name, qualifier


def _described(ctx: LambdaContext, config: UrlConfig) -> dict[str, Any]:
    arn = ctx.arn(config.function)
    described: dict[str, Any] = {
        "FunctionUrl": ctx.platform.http.function_url(config),
        "FunctionArn": f"{arn}:{config.qualifier}" if config.qualifier else arn,
        "AuthType": config.auth_type,
        "CreationTime": config.creation_time,
        "LastModifiedTime": config.last_modified_time,
        "InvokeMode": config.invoke_mode,
    }
    if config.cors is not None:
        described["Cors"] = config.cors
    return described


@operation
async def create_function_url_config(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = _target(ctx, p)
    config = await ctx.platform.http.create_url(
        name, qualifier, p["AuthType"], p.get("Cors"), p.get("InvokeMode")
    )
    described = _described(ctx, config)
    del described["LastModifiedTime"]  # not in CreateFunctionUrlConfig's response
    return described


@operation
async def get_function_url_config(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    return _described(ctx, ctx.platform.http.get_url(*_target(ctx, p)))


@operation
async def update_function_url_config(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = _target(ctx, p)
    config = await ctx.platform.http.update_url(
        name, qualifier, p.get("AuthType"), p.get("Cors"), p.get("InvokeMode")
    )
    return _described(ctx, config)


@operation
async def delete_function_url_config(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    await ctx.platform.http.delete_url(*_target(ctx, p))
    return {}


@operation
async def list_function_url_configs(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, _ = ctx.name_of(p["FunctionName"])
    configs = ctx.platform.http.list_urls(name)
    page, more = paginate(p, configs, lambda c: c.qualifier or "", str)
    return {"FunctionUrlConfigs": [_described(ctx, c) for c in page], **more}
