"""Functions: create, read, update, delete, their concurrency, tags, and account settings."""

from __future__ import annotations

import asyncio
from typing import Any

from ...errors import InvalidParameterValueException
from ...store.zipcheck import MAX_UNZIPPED_BYTES, MAX_ZIPPED_BYTES
from ..signed_urls import presign
from .core import (
    LambdaContext,
    check_revision,
    configuration,
    endpoint_url,
    function_of,
    operation,
    paginate,
    target,
    zip_file,
)


@operation
async def create_function(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    for required in ("Runtime", "Handler"):
        if not p.get(required):
            raise InvalidParameterValueException(f"{required} is required for .zip packages")
    config = await ctx.platform.functions.create(
        name=p["FunctionName"],
        runtime=p["Runtime"],
        handler=p["Handler"],
        code=zip_file(p, "Code"),
        memory_mb=p.get("MemorySize", 128),
        timeout_s=p.get("Timeout", 3),
        env=p.get("Environment", {}).get("Variables", {}),
        description=p.get("Description", ""),
        ephemeral_storage_mb=p.get("EphemeralStorage", {}).get("Size", 512),
        snap_start=p.get("SnapStart", {}).get("ApplyOn", "None"),
        role=p.get("Role", ""),
        layers=p.get("Layers"),
        dead_letter_arn=p.get("DeadLetterConfig", {}).get("TargetArn", ""),
    )
    tags = p.get("Tags")
    if tags:
        check_tags(tags)
        await asyncio.to_thread(ctx.platform.registry.tag, config.name, tags)
    if p.get("Publish"):
        config = await ctx.platform.versions.publish(config.name)
    return configuration(ctx, config)


# How long GetFunction's link to the code works under auth (Lambda's: 10 minutes).
CODE_LINK_EXPIRES_S = 600


@operation
async def get_function(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    config = function_of(ctx, p)
    location = f"{endpoint_url.get()}/_gureum/code/{config.code_sha256}"
    result: dict[str, Any] = {
        "Configuration": configuration(ctx, config),
        "Code": {"RepositoryType": "S3", "Location": presign(location, CODE_LINK_EXPIRES_S)},
        "Tags": await asyncio.to_thread(ctx.platform.registry.tags, config.name),
    }
    if config.reserved_concurrency is not None:
        result["Concurrency"] = {"ReservedConcurrentExecutions": config.reserved_concurrency}
    return result


@operation
async def get_function_configuration(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    return configuration(ctx, function_of(ctx, p))


@operation
async def list_functions(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    functions = await ctx.platform.functions.list()
    page, more = paginate(p, functions, lambda f: f.name, str)
    return {"Functions": [configuration(ctx, f) for f in page], **more}


@operation
async def update_function_code(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    config = function_of(ctx, p)
    check_revision(config, p)
    code = zip_file(p, "")
    if p.get("DryRun"):
        return configuration(ctx, config)
    updated = await ctx.platform.functions.update_code(config.name, code)
    if p.get("Publish"):
        updated = await ctx.platform.versions.publish(config.name)
    return configuration(ctx, updated)


@operation
async def update_function_configuration(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    config = function_of(ctx, p)
    check_revision(config, p)
    environment = p.get("Environment")
    updated = await ctx.platform.functions.update_configuration(
        config.name,
        runtime=p.get("Runtime"),
        handler=p.get("Handler"),
        memory_mb=p.get("MemorySize"),
        timeout_s=p.get("Timeout"),
        env=environment.get("Variables", {}) if environment is not None else None,
        description=p.get("Description"),
        ephemeral_storage_mb=p.get("EphemeralStorage", {}).get("Size"),
        snap_start=p.get("SnapStart", {}).get("ApplyOn"),
        role=p.get("Role"),
        layers=p.get("Layers"),
        dead_letter_arn=p["DeadLetterConfig"].get("TargetArn", "")
        if "DeadLetterConfig" in p
        else None,
    )
    return configuration(ctx, updated)


@operation
async def delete_function(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = target(ctx, p)
    if qualifier is None:
        await ctx.platform.functions.delete(name)
    elif qualifier.isdigit():
        await ctx.platform.versions.delete(name, qualifier)
    else:
        raise InvalidParameterValueException("Deletion of aliases goes through DeleteAlias")
    return {"StatusCode": 204}


@operation
async def get_account_settings(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    functions = await ctx.platform.functions.list()
    limit = ctx.platform.settings.engine.max_concurrency
    reserved = sum(f.reserved_concurrency or 0 for f in functions)
    total_code = sum(f.code_size for f in functions)
    return {
        "AccountLimit": {
            "TotalCodeSize": 80 * 1024**3,
            "CodeSizeUnzipped": MAX_UNZIPPED_BYTES,
            "CodeSizeZipped": MAX_ZIPPED_BYTES,
            "ConcurrentExecutions": limit,
            "UnreservedConcurrentExecutions": limit - reserved,
        },
        "AccountUsage": {"TotalCodeSize": total_code, "FunctionCount": len(functions)},
    }


@operation
async def put_function_concurrency(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    config = function_of(ctx, p)
    reserved = p.get("ReservedConcurrentExecutions")
    if reserved is None:
        raise InvalidParameterValueException("ReservedConcurrentExecutions is required")
    await ctx.platform.functions.set_reserved_concurrency(config.name, reserved)
    return {"ReservedConcurrentExecutions": reserved}


@operation
async def get_function_concurrency(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    config = function_of(ctx, p)
    if config.reserved_concurrency is None:
        return {}
    return {"ReservedConcurrentExecutions": config.reserved_concurrency}


@operation
async def delete_function_concurrency(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    config = function_of(ctx, p)
    await ctx.platform.functions.set_reserved_concurrency(config.name, None)
    return {}


# -- tags -------------------------------------------------------------------------------------

MAX_TAGS = 50


def _tagged_function(ctx: LambdaContext, arn: str) -> str:
    name, qualifier = ctx.name_of(arn)
    if qualifier is not None or not arn.startswith("arn:"):
        raise InvalidParameterValueException(f"Tags apply to a function's unqualified ARN: {arn}")
    ctx.platform.config(name)
    return name


def check_tags(tags: dict[str, str]) -> None:
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(value) > 256 or key.lower().startswith("aws:"):
            raise InvalidParameterValueException(f"Invalid tag: {key!r}")


@operation
async def tag_resource(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name = _tagged_function(ctx, p["Resource"])
    tags: dict[str, str] = p.get("Tags", {})
    check_tags(tags)
    registry = ctx.platform.registry
    current = await asyncio.to_thread(registry.tags, name)
    if len({**current, **tags}) > MAX_TAGS:
        raise InvalidParameterValueException(f"A function has at most {MAX_TAGS} tags")
    await asyncio.to_thread(registry.tag, name, tags)
    return {}


@operation
async def untag_resource(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name = _tagged_function(ctx, p["Resource"])
    await asyncio.to_thread(ctx.platform.registry.untag, name, p.get("TagKeys", []))
    return {}


@operation
async def list_tags(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name = _tagged_function(ctx, p["Resource"])
    return {"Tags": await asyncio.to_thread(ctx.platform.registry.tags, name)}
