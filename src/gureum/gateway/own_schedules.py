"""gureum's own schedules endpoint: what the Scheduler API cannot say, for the CLI and deploys.

GET    /_gureum/schedules[?group=G]       every schedule, with its next fire time
PUT    /_gureum/schedules/{group}/{name}   create or replace, from JSON:
       {"expression", "function": "name[:qualifier]", "timezone"?, "input"?,
        "catchUp"?: "once" | "skip", "state"?, "description"?}
DELETE /_gureum/schedules/{group}/{name}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import GureumError
from ..events.schedules import Schedule, ValidationException
from .lambda_api import LambdaContext, resolve_name

STRINGS = ("expression", "function", "timezone", "input", "catchUp", "state", "description")


def schedule_routes(
    context: Callable[[], LambdaContext], error_response: Callable[[GureumError], Response]
) -> list[Route]:
    def described(schedule: Schedule) -> dict[str, Any]:
        schedules = context().platform.schedules
        return {
            "group": schedule.group,
            "name": schedule.name,
            "arn": schedules.arn(schedule),
            "expression": schedule.expression,
            "timezone": schedule.timezone,
            "target": schedule.target_arn,
            "state": schedule.state,
            "catchUp": schedule.catch_up,
            "input": schedule.input,
            "description": schedule.description,
            "nextFire": schedules.next_tick(schedule.group, schedule.name),
        }

    async def list_schedules(request: Request) -> Response:
        group = request.query_params.get("group")
        schedules = context().platform.schedules.list(group)
        return JSONResponse({"schedules": [described(s) for s in schedules]})

    async def put_schedule(request: Request) -> Response:
        platform = context().platform
        group, name = request.path_params["group"], request.path_params["name"]
        try:
            body = _document(await request.body())
            function, qualifier = resolve_name(body["function"])
            arn = platform.settings.engine.function_arn(function)
            schedule = Schedule(
                name=name,
                group=group,
                expression=body["expression"],
                target_arn=f"{arn}:{qualifier}" if qualifier else arn,
                timezone=body.get("timezone") or "UTC",
                input=body.get("input"),
                catch_up=body.get("catchUp") or "once",
                state=body.get("state") or "ENABLED",
                description=body.get("description") or "",
            )
            exists = any(s.key == schedule.key for s in platform.schedules.list(group))
            schedule = await platform.schedules.put(schedule, create=not exists)
        except GureumError as error:
            return error_response(error)
        return JSONResponse(described(schedule), status_code=200 if exists else 201)

    async def delete_schedule(request: Request) -> Response:
        try:
            await context().platform.schedules.delete(
                request.path_params["group"], request.path_params["name"]
            )
        except GureumError as error:
            return error_response(error)
        return Response(status_code=204)

    return [
        Route("/_gureum/schedules", list_schedules, methods=["GET"]),
        Route("/_gureum/schedules/{group}/{name}", put_schedule, methods=["PUT"]),
        Route("/_gureum/schedules/{group}/{name}", delete_schedule, methods=["DELETE"]),
    ]


def _document(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError as error:
        raise ValidationException("the body is not JSON") from error
    if not isinstance(document, dict):
        raise ValidationException("the body must be a JSON object")
    for key in ("expression", "function"):
        if not isinstance(document.get(key), str):
            raise ValidationException(f"'{key}' is required (a string)")
    for key in STRINGS:
        if document.get(key) is not None and not isinstance(document[key], str):
            raise ValidationException(f"'{key}' must be a string")
    return document
