"""The EventBridge Scheduler API (botocore's ``scheduler`` model), for functions as targets.

boto3's ``scheduler`` client and ``aws scheduler`` work against gureum's one endpoint: requests
under ``/schedules`` and ``/schedule-groups`` come here. Groups exist implicitly: a schedule's
group is created with it (``default`` always exists). gureum's own extension, what to do about
ticks missed while down, is set through ``/_gureum/schedules`` and the CLI; schedules made here
get the default (fire the latest missed tick once).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import botocore.session

from ..events.schedules import Schedule, ValidationException
from .lambda_api import LambdaContext
from .restjson import RestJsonService

Operation = Callable[[LambdaContext, dict[str, Any]], Awaitable[dict[str, Any]]]
OPERATIONS: dict[str, Operation] = {}
PREFIXES = ("/schedules", "/schedule-groups")
# What the API takes and gureum keeps without acting on it.
KEPT = ("FlexibleTimeWindow", "KmsKeyArn")
KEPT_IN_TARGET = ("RoleArn", "RetryPolicy", "DeadLetterConfig")


def scheduler_service() -> RestJsonService:
    return RestJsonService(botocore.session.get_session().get_service_model("scheduler"))


def operation(fn: Operation) -> Operation:
    OPERATIONS["".join(part.title() for part in fn.__name__.split("_"))] = fn
    return fn


def _epoch(value: Any, member: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError as error:
        raise ValidationException(f"{member} is not a date: {value}") from error


def schedule_of(p: dict[str, Any]) -> Schedule:
    target = p["Target"]
    extra: dict[str, Any] = {k: p[k] for k in KEPT if k in p}
    extra["Target"] = {k: target[k] for k in KEPT_IN_TARGET if k in target}
    return Schedule(
        name=p["Name"],
        expression=p["ScheduleExpression"],
        target_arn=target["Arn"],
        group=p.get("GroupName") or "default",
        timezone=p.get("ScheduleExpressionTimezone") or "UTC",
        input=target.get("Input"),
        state=p.get("State") or "ENABLED",
        description=p.get("Description") or "",
        start=_epoch(p.get("StartDate"), "StartDate"),
        end=_epoch(p.get("EndDate"), "EndDate"),
        delete_after_completion=p.get("ActionAfterCompletion") == "DELETE",
        extra=extra,
    )


def describe(ctx: LambdaContext, schedule: Schedule) -> dict[str, Any]:
    target: dict[str, Any] = {"Arn": schedule.target_arn, **schedule.extra.get("Target", {})}
    if schedule.input is not None:
        target["Input"] = schedule.input
    described: dict[str, Any] = {
        "Arn": ctx.platform.schedules.arn(schedule),
        "Name": schedule.name,
        "GroupName": schedule.group,
        "ScheduleExpression": schedule.expression,
        "ScheduleExpressionTimezone": schedule.timezone,
        "State": schedule.state,
        "Description": schedule.description or None,
        "StartDate": schedule.start,
        "EndDate": schedule.end,
        "ActionAfterCompletion": "DELETE" if schedule.delete_after_completion else "NONE",
        "CreationDate": schedule.created,
        "LastModificationDate": schedule.modified,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": target,
    }
    described.update({k: v for k, v in schedule.extra.items() if k in KEPT})
    return described


@operation
async def create_schedule(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    schedule = await ctx.platform.schedules.put(schedule_of(p), create=True)
    return {"ScheduleArn": ctx.platform.schedules.arn(schedule)}


@operation
async def update_schedule(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    schedules = ctx.platform.schedules
    wanted = schedule_of(p)
    current = schedules.get(wanted.group, wanted.name)
    schedule = await schedules.put(_keeping(wanted, current), create=False)
    return {"ScheduleArn": schedules.arn(schedule)}


def _keeping(wanted: Schedule, current: Schedule) -> Schedule:
    """An update replaces the schedule, but keeps gureum's own setting the API cannot carry."""
    return replace(wanted, catch_up=current.catch_up)


@operation
async def get_schedule(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    schedule = ctx.platform.schedules.get(p.get("GroupName") or "default", p["Name"])
    return describe(ctx, schedule)


@operation
async def delete_schedule(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    await ctx.platform.schedules.delete(p.get("GroupName") or "default", p["Name"])
    return {}


@operation
async def list_schedules(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    schedules = [
        s
        for s in ctx.platform.schedules.list(p.get("GroupName"))
        if s.name.startswith(p.get("NamePrefix") or "") and p.get("State") in (None, s.state)
    ]
    page, token = _page(p, schedules, lambda s: f"{s.group}/{s.name}")
    summaries = [
        {
            "Arn": ctx.platform.schedules.arn(s),
            "Name": s.name,
            "GroupName": s.group,
            "State": s.state,
            "CreationDate": s.created,
            "LastModificationDate": s.modified,
            "Target": {"Arn": s.target_arn},
        }
        for s in page
    ]
    return {"Schedules": summaries, "NextToken": token}


@operation
async def list_schedule_groups(ctx: LambdaContext, p: dict[str, Any]) -> dict[str, Any]:
    names = sorted({"default", *(s.group for s in ctx.platform.schedules.list())})
    names = [n for n in names if n.startswith(p.get("NamePrefix") or "")]
    page, token = _page(p, names, lambda n: n)
    region, account = ctx.platform.schedules.region, ctx.platform.schedules.account
    groups = [
        {
            "Arn": f"arn:aws:scheduler:{region}:{account}:schedule-group/{name}",
            "Name": name,
            "State": "ACTIVE",
        }
        for name in page
    ]
    return {"ScheduleGroups": groups, "NextToken": token}


def _page(
    p: dict[str, Any], items: list[Any], key: Callable[[Any], str]
) -> tuple[list[Any], str | None]:
    size = p.get("MaxResults") or 100
    token = p.get("NextToken")
    if token:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except (binascii.Error, UnicodeDecodeError) as error:
            raise ValidationException("NextToken is not one gureum handed out") from error
        items = [item for item in items if key(item) > after]
    page = items[:size]
    more = len(items) > size
    return page, base64.urlsafe_b64encode(key(page[-1]).encode()).decode() if more else None
