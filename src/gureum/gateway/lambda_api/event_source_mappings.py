"""Create/Get/Update/Delete/ListEventSourceMapping(s): gureum's queues as event sources."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ...errors import InvalidParameterValueException
from ...events.mappings import Mapping
from .core import LambdaContext, operation, paginate

# What Lambda takes for other kinds of sources, or for SQS but gureum does not act on.
NOT_FOR_SQS = (
    "StartingPosition",
    "StartingPositionTimestamp",
    "ParallelizationFactor",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "TumblingWindowInSeconds",
    "Topics",
    "Queues",
    "SourceAccessConfigurations",
    "SelfManagedEventSource",
)
KEPT = ("FilterCriteria", "DestinationConfig", "Tags", "KMSKeyArn", "MetricsConfig")


def describe(ctx: LambdaContext, mapping: Mapping) -> dict[str, Any]:
    function_arn = ctx.arn(mapping.function)
    if mapping.qualifier:
        function_arn += f":{mapping.qualifier}"
    region, account = ctx.platform.settings.engine.region, ctx.platform.settings.engine.account_id
    described: dict[str, Any] = {
        "UUID": mapping.uuid,
        "BatchSize": mapping.batch_size,
        "MaximumBatchingWindowInSeconds": mapping.window_s,
        "EventSourceArn": mapping.source_arn,
        "FunctionArn": function_arn,
        "LastModified": mapping.last_modified,
        "LastProcessingResult": mapping.last_result,
        "State": "Enabled" if mapping.enabled else "Disabled",
        "StateTransitionReason": "USER_INITIATED",
        "FunctionResponseTypes": list(mapping.response_types),
        "EventSourceMappingArn": (
            f"arn:aws:lambda:{region}:{account}:event-source-mapping:{mapping.uuid}"
        ),
    }
    if mapping.max_concurrency is not None:
        described["ScalingConfig"] = {"MaximumConcurrency": mapping.max_concurrency}
    described.update({k: v for k, v in mapping.extra.items() if k != "Tags"})
    return described


def _function(ctx: LambdaContext, value: str) -> tuple[str, str | None]:
    name, qualifier = ctx.name_of(value)
    ctx.platform.resolve(name, qualifier)
    return name, qualifier


def _refuse_other_sources(p: dict[str, Any]) -> None:
    given = [k for k in NOT_FOR_SQS if k in p]
    if given:
        raise InvalidParameterValueException(
            f"{given[0]} is not supported for SQS event sources (gureum's sources are its queues)"
        )


@operation
async def create_event_source_mapping(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    _refuse_other_sources(p)
    if not p.get("EventSourceArn"):
        raise InvalidParameterValueException("EventSourceArn is required: a queue's ARN")
    function, qualifier = _function(ctx, p["FunctionName"])
    window = p.get("MaximumBatchingWindowInSeconds", 0)
    mapping = Mapping(
        uuid="",
        function=function,
        qualifier=qualifier,
        source_arn=p["EventSourceArn"],
        batch_size=p.get("BatchSize", 10),
        window_s=window,
        enabled=p.get("Enabled", True),
        response_types=tuple(p.get("FunctionResponseTypes") or ()),
        max_concurrency=(p.get("ScalingConfig") or {}).get("MaximumConcurrency"),
        extra={k: p[k] for k in KEPT if k in p},
    )
    return describe(ctx, await ctx.platform.mappings.create(mapping))


@operation
async def get_event_source_mapping(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    return describe(ctx, ctx.platform.mappings.get(p["UUID"]))


@operation
async def update_event_source_mapping(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    _refuse_other_sources(p)
    current = ctx.platform.mappings.get(p["UUID"])
    changes: dict[str, Any] = {}
    if "FunctionName" in p:
        changes["function"], changes["qualifier"] = _function(ctx, p["FunctionName"])
    if "BatchSize" in p:
        changes["batch_size"] = p["BatchSize"]
    if "MaximumBatchingWindowInSeconds" in p:
        changes["window_s"] = p["MaximumBatchingWindowInSeconds"]
    if "Enabled" in p:
        changes["enabled"] = p["Enabled"]
    if "FunctionResponseTypes" in p:
        changes["response_types"] = tuple(p["FunctionResponseTypes"])
    if "ScalingConfig" in p:
        changes["max_concurrency"] = (p["ScalingConfig"] or {}).get("MaximumConcurrency")
    kept = {**current.extra, **{k: p[k] for k in KEPT if k in p}}
    mapping = replace(current, extra=kept, **changes)
    return describe(ctx, await ctx.platform.mappings.update(mapping))


@operation
async def delete_event_source_mapping(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    mapping = await ctx.platform.mappings.delete(p["UUID"])
    return {**describe(ctx, mapping), "State": "Deleting"}


@operation
async def list_event_source_mappings(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    function = None
    if p.get("FunctionName"):
        function, _ = ctx.name_of(p["FunctionName"])
        ctx.platform.config(function)
    mappings = ctx.platform.mappings.list(function, p.get("EventSourceArn"))
    page, rest = paginate(p, mappings, lambda m: m.uuid, str)
    return {"EventSourceMappings": [describe(ctx, m) for m in page], **rest}
