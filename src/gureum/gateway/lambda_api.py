"""The Lambda API's operations, each a plain function of the parsed parameters to a result.

Shapes are botocore's (``lambda/2015-03-31``): the protocol layer has already typed the input,
and serialises whatever dict comes back.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import (
    GureumError,
    InvalidParameterValueException,
    RequestTooLargeException,
)
from ..platform import Platform
from ..store.zipcheck import MAX_UNZIPPED_BYTES, MAX_ZIPPED_BYTES
from ..types import LATEST, FunctionConfig, InvokeOptions
from .restjson import InvalidRequestContentException

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024  # Lambda's 6 MB for RequestResponse
ASYNC_PAYLOAD_LIMIT = 1024 * 1024  # gureum's limit for Event invocations
LOG_TAIL_BYTES = 4096
DEFAULT_PAGE = 50


class PreconditionFailedException(GureumError):
    error_type = "PreconditionFailedException"
    status = 412


@dataclass(slots=True)
class LambdaContext:
    """What every operation may use: the platform, and the background work it started."""

    platform: Platform
    background: set[asyncio.Task[Any]] = field(default_factory=set)

    def arn(self, name: str) -> str:
        return self.platform.settings.engine.function_arn(name)


Operation = Callable[[LambdaContext, dict[str, Any]], Awaitable[dict[str, Any]]]
OPERATIONS: dict[str, Operation] = {}


def operation(fn: Operation) -> Operation:
    """Register ``fn`` under its botocore operation name (the function's own name in CamelCase)."""
    OPERATIONS["".join(part.title() for part in fn.__name__.split("_"))] = fn
    return fn


def resolve_name(value: str) -> tuple[str, str | None]:
    """A FunctionName parameter (name, name:qualifier, partial or full ARN) -> (name, qualifier)."""
    parts = value.split(":")
    if value.startswith("arn:"):
        # arn:aws:lambda:region:account:function:name[:qualifier]
        if len(parts) < 7 or parts[5] != "function":
            raise InvalidParameterValueException(f"Invalid function ARN: {value}")
        return parts[6], parts[7] if len(parts) > 7 else None
    if len(parts) >= 3 and parts[1] == "function":  # account:function:name[:qualifier]
        return parts[2], parts[3] if len(parts) > 3 else None
    if len(parts) == 2:
        return parts[0], parts[1]
    return value, None


def _target(params: dict[str, Any]) -> tuple[str, str | None]:
    name, qualifier = resolve_name(params["FunctionName"])
    return name, params.get("Qualifier") or qualifier


def _function(ctx: LambdaContext, params: dict[str, Any]) -> FunctionConfig:
    """The configuration a request names: $LATEST, a version, or an alias's primary version."""
    name, qualifier = _target(params)
    platform = ctx.platform
    if qualifier is None or qualifier == LATEST:
        return platform.config(name)
    if not qualifier.isdigit():
        qualifier = platform.aliases.get(name, qualifier)["FunctionVersion"]
    return platform.versions.get(name, qualifier)


def configuration(ctx: LambdaContext, config: FunctionConfig) -> dict[str, Any]:
    """A FunctionConfiguration, as Lambda returns it."""
    result: dict[str, Any] = {
        "FunctionName": config.name,
        "FunctionArn": ctx.arn(config.name)
        + ("" if config.version == LATEST else f":{config.version}"),
        "Runtime": config.runtime,
        "Role": config.role,
        "Handler": config.handler,
        "CodeSize": config.code_size,
        "Description": config.description,
        "Timeout": config.timeout_s,
        "MemorySize": config.memory_mb,
        "LastModified": config.last_modified,
        # Lambda reports the code's SHA-256 base64-encoded, not in hex.
        "CodeSha256": base64.b64encode(bytes.fromhex(config.code_sha256)).decode(),
        "Version": config.version,
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": config.revision_id,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": config.ephemeral_storage_mb},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{config.name}"},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
    }
    if config.env:
        result["Environment"] = {"Variables": dict(config.env)}
    if config.layers:
        layers = ctx.platform.layers
        result["Layers"] = [
            {"Arn": arn, "CodeSize": layers.code_size(arn)} for arn in config.layers
        ]
    return result


def _zip_file(params: dict[str, Any], holder: str) -> bytes:
    code = params.get(holder, {}) if holder else params
    if "ZipFile" not in code:
        if params.get("PackageType") == "Image" or "ImageUri" in code:
            raise InvalidParameterValueException(
                "gureum runs .zip packages; images are not supported"
            )
        raise InvalidParameterValueException(
            "Code must carry ZipFile: gureum does not fetch code from S3 (yet)"
        )
    zip_bytes: bytes = code["ZipFile"]
    return zip_bytes


@operation
async def create_function(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    for required in ("Runtime", "Handler"):
        if not p.get(required):
            raise InvalidParameterValueException(f"{required} is required for .zip packages")
    config = await ctx.platform.functions.create(
        name=p["FunctionName"],
        runtime=p["Runtime"],
        handler=p["Handler"],
        code=_zip_file(p, "Code"),
        memory_mb=p.get("MemorySize", 128),
        timeout_s=p.get("Timeout", 3),
        env=p.get("Environment", {}).get("Variables", {}),
        description=p.get("Description", ""),
        ephemeral_storage_mb=p.get("EphemeralStorage", {}).get("Size", 512),
        role=p.get("Role", ""),
        layers=p.get("Layers"),
    )
    tags = p.get("Tags")
    if tags:
        _check_tags(tags)
        await asyncio.to_thread(ctx.platform.registry.tag, config.name, tags)
    if p.get("Publish"):
        config = await ctx.platform.versions.publish(config.name)
    return configuration(ctx, config)


@operation
async def get_function(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    config = _function(ctx, p)
    result: dict[str, Any] = {
        "Configuration": configuration(ctx, config),
        "Code": {"RepositoryType": "S3", "Location": f"/_gureum/code/{config.code_sha256}"},
        "Tags": await asyncio.to_thread(ctx.platform.registry.tags, config.name),
    }
    if config.reserved_concurrency is not None:
        result["Concurrency"] = {"ReservedConcurrentExecutions": config.reserved_concurrency}
    return result


@operation
async def get_function_configuration(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    return configuration(ctx, _function(ctx, p))


@operation
async def list_functions(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    page_size = p.get("MaxItems", DEFAULT_PAGE)
    if not 1 <= page_size <= 10000:
        raise InvalidParameterValueException("MaxItems must be between 1 and 10000")
    functions = await ctx.platform.functions.list()
    # The marker is the last name already returned: stable even while functions come and go.
    marker = p.get("Marker")
    if marker:
        functions = [f for f in functions if f.name > marker]
    page = functions[:page_size]
    result: dict[str, Any] = {"Functions": [configuration(ctx, f) for f in page]}
    if len(functions) > page_size:
        result["NextMarker"] = page[-1].name
    return result


def _check_revision(config: FunctionConfig, p: dict[str, Any]) -> None:
    expected = p.get("RevisionId")
    if expected is not None and expected != config.revision_id:
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
        )


@operation
async def update_function_code(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    config = _function(ctx, p)
    _check_revision(config, p)
    code = _zip_file(p, "")
    if p.get("DryRun"):
        return configuration(ctx, config)
    updated = await ctx.platform.functions.update_code(config.name, code)
    if p.get("Publish"):
        updated = await ctx.platform.versions.publish(config.name)
    return configuration(ctx, updated)


@operation
async def update_function_configuration(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    config = _function(ctx, p)
    _check_revision(config, p)
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
        role=p.get("Role"),
        layers=p.get("Layers"),
    )
    return configuration(ctx, updated)


@operation
async def delete_function(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = _target(p)
    if qualifier is None:
        await ctx.platform.functions.delete(name)
    elif qualifier.isdigit():
        await ctx.platform.versions.delete(name, qualifier)
    else:
        raise InvalidParameterValueException("Deletion of aliases goes through DeleteAlias")
    return {"StatusCode": 204}


@operation
async def invoke(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = _target(p)
    config = _function(ctx, p)
    payload: bytes = p.get("Payload", b"")
    kind = p.get("InvocationType", "RequestResponse")
    if kind == "DryRun":
        return {"StatusCode": 204}
    options = InvokeOptions(client_context=_client_context(p.get("ClientContext")))
    if kind == "Event":
        if len(payload) > ASYNC_PAYLOAD_LIMIT:
            raise RequestTooLargeException(
                f"Request must be smaller than {ASYNC_PAYLOAD_LIMIT} bytes for the Event invocation"
            )
        # Not yet durable: the events issue puts a persistent queue here.
        task = asyncio.create_task(ctx.platform.invoke(name, payload, options, qualifier))
        ctx.background.add(task)
        task.add_done_callback(ctx.background.discard)
        return {"StatusCode": 202}
    if kind != "RequestResponse":
        raise InvalidParameterValueException(f"Unknown InvocationType: {kind}")
    if len(payload) > SYNC_PAYLOAD_LIMIT:
        raise RequestTooLargeException(
            f"Request must be smaller than {SYNC_PAYLOAD_LIMIT} bytes "
            "for the InvokeFunction operation"
        )
    result = await ctx.platform.invoke(config.name, payload, options, qualifier)
    response: dict[str, Any] = {
        "StatusCode": 200,
        "Payload": result.payload,
        "ExecutedVersion": result.executed_version,
        "FunctionError": result.function_error,
    }
    if p.get("LogType") == "Tail":
        tail = result.logs.encode()[-LOG_TAIL_BYTES:]
        response["LogResult"] = base64.b64encode(tail).decode()
    return response


def _client_context(encoded: str | None) -> str | None:
    """Lambda refuses a client context that is not base64-encoded JSON (it reaches the
    function as context.client_context)."""
    if encoded is None:
        return None
    try:
        decoded = json.loads(base64.b64decode(encoded, validate=True))
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict):
        raise InvalidRequestContentException(
            "Client context must be a valid Base64-encoded JSON object."
        )
    return encoded


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
    config = _function(ctx, p)
    reserved = p.get("ReservedConcurrentExecutions")
    if reserved is None:
        raise InvalidParameterValueException("ReservedConcurrentExecutions is required")
    await ctx.platform.functions.set_reserved_concurrency(config.name, reserved)
    return {"ReservedConcurrentExecutions": reserved}


@operation
async def get_function_concurrency(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    config = _function(ctx, p)
    if config.reserved_concurrency is None:
        return {}
    return {"ReservedConcurrentExecutions": config.reserved_concurrency}


@operation
async def delete_function_concurrency(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    config = _function(ctx, p)
    await ctx.platform.functions.set_reserved_concurrency(config.name, None)
    return {}


# -- versions and aliases ---------------------------------------------------------------------


@operation
async def publish_version(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, _ = resolve_name(p["FunctionName"])
    latest = ctx.platform.config(name)
    _check_revision(latest, p)
    expect = p.get("CodeSha256")
    if expect is not None:
        expect = base64.b64decode(expect).hex()
    version = await ctx.platform.versions.publish(name, p.get("Description"), expect)
    return configuration(ctx, version)


@operation
async def list_versions_by_function(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, _ = resolve_name(p["FunctionName"])
    versions = ctx.platform.versions.list(name)
    start = int(p["Marker"]) if p.get("Marker", "").isdigit() else 0
    page_size = p.get("MaxItems", DEFAULT_PAGE)
    page = versions[start : start + page_size]
    result: dict[str, Any] = {"Versions": [configuration(ctx, v) for v in page]}
    if start + page_size < len(versions):
        result["NextMarker"] = str(start + page_size)
    return result


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
    name, _ = resolve_name(p["FunctionName"])
    alias = await ctx.platform.aliases.create(
        name, p["Name"], p["FunctionVersion"], p.get("Description", ""), _routing(p)
    )
    return alias_out(ctx, name, alias)


@operation
async def get_alias(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, _ = resolve_name(p["FunctionName"])
    return alias_out(ctx, name, ctx.platform.aliases.get(name, p["Name"]))


@operation
async def update_alias(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, _ = resolve_name(p["FunctionName"])
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
    name, _ = resolve_name(p["FunctionName"])
    await ctx.platform.aliases.delete(name, p["Name"])
    return {}


@operation
async def list_aliases(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name, _ = resolve_name(p["FunctionName"])
    aliases = ctx.platform.aliases.list(name)
    version = p.get("FunctionVersion")
    if version:
        aliases = [a for a in aliases if a["FunctionVersion"] == version]
    return {"Aliases": [alias_out(ctx, name, a) for a in aliases]}


# -- layers -----------------------------------------------------------------------------------


@operation
async def publish_layer_version(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    return await ctx.platform.layers.publish(
        p["LayerName"],
        _zip_file(p, "Content"),
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
    return {"LayerVersions": versions}


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
    return {"Layers": result}


@operation
async def delete_layer_version(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    await ctx.platform.layers.delete(p["LayerName"], int(p["VersionNumber"]))
    return {}


# -- provisioned concurrency ------------------------------------------------------------------


@operation
async def put_provisioned_concurrency_config(
    ctx: LambdaContext, p: dict[str, Any]
) -> dict[str, Any]:
    name, _ = resolve_name(p["FunctionName"])
    return await ctx.platform.provisioning.put(
        name, p["Qualifier"], p["ProvisionedConcurrentExecutions"]
    )


@operation
async def get_provisioned_concurrency_config(
    ctx: LambdaContext, p: dict[str, Any]
) -> dict[str, Any]:
    name, _ = resolve_name(p["FunctionName"])
    ctx.platform.config(name)
    return ctx.platform.provisioning.describe(name, p["Qualifier"])


@operation
async def delete_provisioned_concurrency_config(
    ctx: LambdaContext, p: dict[str, Any]
) -> dict[str, Any]:
    name, _ = resolve_name(p["FunctionName"])
    await ctx.platform.provisioning.delete(name, p["Qualifier"])
    return {}


@operation
async def list_provisioned_concurrency_configs(
    ctx: LambdaContext, p: dict[str, Any]
) -> dict[str, Any]:
    name, _ = resolve_name(p["FunctionName"])
    configs = [
        {"FunctionArn": f"{ctx.arn(name)}:{qualifier}", **described}
        for qualifier, described in ctx.platform.provisioning.list(name)
    ]
    return {"ProvisionedConcurrencyConfigs": configs}


# -- tags -------------------------------------------------------------------------------------

MAX_TAGS = 50


def _tagged_function(ctx: LambdaContext, arn: str) -> str:
    name, qualifier = resolve_name(arn)
    if qualifier is not None or not arn.startswith("arn:"):
        raise InvalidParameterValueException(f"Tags apply to a function's unqualified ARN: {arn}")
    ctx.platform.config(name)
    return name


def _check_tags(tags: dict[str, str]) -> None:
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(value) > 256 or key.lower().startswith("aws:"):
            raise InvalidParameterValueException(f"Invalid tag: {key!r}")


@operation
async def tag_resource(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    name = _tagged_function(ctx, p["Resource"])
    tags: dict[str, str] = p.get("Tags", {})
    _check_tags(tags)
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
