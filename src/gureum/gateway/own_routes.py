"""gureum's own HTTP routes endpoint: the routes of the user-facing listener, by owner.

GET    /_gureum/routes            every route: {"routes": [{"owner", "route", "function",
                                   "payloadFormat"}]}
PUT    /_gureum/routes/{owner}    the owner's routes become exactly these, from JSON:
       {"routes": [{"route": "GET /users/{id}", "function": "name[:qualifier]",
                    "payloadFormat"?: "2.0" | "1.0"}]}
DELETE /_gureum/routes/{owner}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from ..errors import GureumError, InvalidParameterValueException
from .lambda_api import LambdaContext
from .routes import Route


def route_routes(
    context: Callable[[], LambdaContext], error_response: Callable[[GureumError], Response]
) -> list[StarletteRoute]:
    async def list_routes(request: Request) -> Response:
        listed = [
            {
                "owner": owner,
                "route": route.key,
                "function": route.target,
                "payloadFormat": route.payload_format,
            }
            for owner, route in context().platform.http.routes()
        ]
        return JSONResponse({"routes": listed})

    async def put_routes(request: Request) -> Response:
        try:
            routes = _routes(await request.body())
            await context().platform.http.set_routes(request.path_params["owner"], routes)
        except GureumError as error:
            return error_response(error)
        return await list_routes(request)

    async def delete_routes(request: Request) -> Response:
        try:
            await context().platform.http.delete_routes(request.path_params["owner"])
        except GureumError as error:
            return error_response(error)
        return Response(status_code=204)

    return [
        StarletteRoute("/_gureum/routes", list_routes, methods=["GET"]),
        StarletteRoute("/_gureum/routes/{owner}", put_routes, methods=["PUT"]),
        StarletteRoute("/_gureum/routes/{owner}", delete_routes, methods=["DELETE"]),
    ]


def _routes(body: bytes) -> list[Route]:
    try:
        document: Any = json.loads(body or b"null")
    except ValueError:
        document = None
    items = document.get("routes") if isinstance(document, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidParameterValueException(
            'expected JSON {"routes": [{"route": "GET /path", "function": "name"}, ...]}'
        )
    routes = []
    for item in items:
        key, function = item.get("route"), item.get("function")
        payload_format = item.get("payloadFormat", "2.0")
        if not all(isinstance(v, str) and v for v in (key, function, payload_format)):
            raise InvalidParameterValueException(
                f"each route needs strings 'route' and 'function' (and 'payloadFormat'): {item}"
            )
        routes.append(Route(key, function, payload_format))
    return routes
