"""gureum's one HTTP endpoint: every API it serves, told apart by service.

Only the Lambda API exists yet; S3, SQS and Step Functions join it on the same endpoint (as
``AWS_ENDPOINT_URL`` expects), routed by the SigV4 credential scope, ``X-Amz-Target`` or path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import botocore.session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import (
    GureumError,
    InvalidParameterValueException,
    ResourceNotFoundException,
    ServiceException,
)
from ..platform import PlatformSettings, open_platform
from .lambda_api import OPERATIONS, LambdaContext
from .lambda_api.core import endpoint_url
from .restjson import RestJsonService

log = logging.getLogger("gureum.gateway")

# Largest body accepted at all: a 50 MB zip, base64-encoded in a CreateFunction request.
MAX_BODY_BYTES = 70 * 1024 * 1024


class RequestEntityTooLargeException(GureumError):
    error_type = "RequestEntityTooLargeException"
    status = 413


def lambda_service() -> RestJsonService:
    model = botocore.session.get_session().get_service_model("lambda")
    return RestJsonService(model)


async def read_body(request: Request, limit: int) -> bytes:
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestEntityTooLargeException(f"Request must be smaller than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    data_dir: Path,
    settings: PlatformSettings | None = None,
    on_ready: Callable[[LambdaContext], None] | None = None,
) -> Starlette:
    service = lambda_service()
    state: dict[str, LambdaContext] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        platform = await open_platform(data_dir, settings)
        context = LambdaContext(platform)
        state["lambda"] = context
        if on_ready is not None:
            on_ready(context)
        try:
            yield
        finally:
            # Accepted asynchronous invocations finish before the sandboxes go away.
            if context.background:
                await asyncio.wait(context.background, timeout=30)
            await platform.aclose()

    async def health(request: Request) -> Response:
        context = state["lambda"]
        return JSONResponse(
            {
                "status": "ok",
                "isolation": context.platform.isolation,
                "functions": len(context.platform.configs),
            }
        )

    async def code_download(request: Request) -> Response:
        context = state["lambda"]
        sha = request.path_params["sha"]
        try:
            blob = await asyncio.to_thread(context.platform.code.blob, sha)
        except GureumError as error:
            return _error_response(service, error)
        return Response(blob, media_type="application/zip")

    async def function_logs(request: Request) -> Response:
        """gureum's own logs query (Lambda keeps logs in CloudWatch, which gureum does not speak):
        ?start=&end= (epoch seconds), ?request_id=, ?limit= (default 1000)."""
        context = state["lambda"]
        query = request.query_params
        try:
            name = request.path_params["name"]
            context.platform.config(name)
            lines = await context.platform.logs(
                name,
                start=float(query["start"]) if "start" in query else None,
                end=float(query["end"]) if "end" in query else None,
                request_id=query.get("request_id"),
                limit=int(query.get("limit", 1000)),
            )
        except GureumError as error:
            return _error_response(service, error)
        except ValueError:
            return _error_response(
                service, InvalidParameterValueException("bad start, end or limit")
            )
        events = [
            {"timestamp": line.timestamp, "requestId": line.request_id, "message": line.message}
            for line in lines
        ]
        return JSONResponse({"events": events})

    async def dispatch(request: Request) -> Response:
        context = state["lambda"]
        try:
            query: dict[str, list[str]] = {}
            for key, value in request.query_params.multi_items():
                query.setdefault(key, []).append(value)
            operation, path_params = service.match(request.method, request.url.path, query)
            body = await read_body(request, MAX_BODY_BYTES)
            headers = {k.lower(): v for k, v in request.headers.items()}
            params = service.parse(operation, path_params, query, headers, body)
            handler = OPERATIONS.get(operation.name)
            if handler is None:
                raise ResourceNotFoundException(f"{operation.name} is not supported by gureum yet")
            endpoint_url.set(str(request.base_url).rstrip("/"))
            result = await handler(context, params)
            reply = service.serialize(operation, result)
        except GureumError as error:
            return _error_response(service, error)
        except Exception:
            log.exception("unexpected error in %s %s", request.method, request.url.path)
            return _error_response(service, ServiceException("Internal error in gureum"))
        return Response(reply.body, status_code=reply.status, headers=dict(reply.headers))

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/_gureum/code/{sha}", code_download, methods=["GET"]),
        Route("/_gureum/functions/{name}/logs", function_logs, methods=["GET"]),
        Route(
            "/{path:path}",
            dispatch,
            methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"],
        ),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _error_response(service: RestJsonService, error: GureumError) -> Response:
    reply = service.serialize_error(error)
    return Response(reply.body, status_code=reply.status, headers=dict(reply.headers))
