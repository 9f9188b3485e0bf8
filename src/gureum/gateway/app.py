"""gureum's one HTTP endpoint: every API it serves, told apart by service.

Only the Lambda API exists yet; S3, SQS and Step Functions join it on the same endpoint (as
``AWS_ENDPOINT_URL`` expects), routed by the SigV4 credential scope, ``X-Amz-Target`` or path.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import botocore.session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import (
    GureumError,
    InvalidParameterValueException,
    ResourceNotFoundException,
    ServiceException,
)
from ..platform import Platform, PlatformSettings, open_platform
from ..sandbox.runtimes import host_runtime
from . import restjson, scheduler_api
from .bodies import read_body
from .lambda_api import OPERATIONS, LambdaContext
from .lambda_api.core import endpoint_url
from .own_routes import route_routes
from .own_schedules import schedule_routes
from .restjson import RestJsonService
from .s3_api import s3_app
from .sqs_api import sqs_app

log = logging.getLogger("gureum.gateway")

# Largest body accepted at all: a 50 MB zip, base64-encoded in a CreateFunction request.
MAX_BODY_BYTES = 70 * 1024 * 1024


# Paths that are gureum's own, not an AWS API's.
OWN_PREFIXES = ("/health", "/_gureum/")


def lambda_service() -> RestJsonService:
    model = botocore.session.get_session().get_service_model("lambda")
    return RestJsonService(model)


def create_app(
    data_dir: Path,
    settings: PlatformSettings | None = None,
    on_ready: Callable[[LambdaContext], None] | None = None,
) -> ApiDispatcher:
    service = lambda_service()
    state: dict[str, LambdaContext] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        platform = await open_platform(data_dir, settings)
        context = LambdaContext(platform)
        state["lambda"] = context
        # The host's own Python is the likeliest runtime: its zygote and shells start now, so
        # even the first cold start after start-up takes a ready shell.
        warming = asyncio.create_task(_warm(platform, host_runtime()))
        if on_ready is not None:
            on_ready(context)
        try:
            yield
        finally:
            warming.cancel()
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

    async def function_stats(request: Request) -> Response:
        """gureum's own per-function figures (CloudWatch metrics on AWS): invocations, errors,
        cold starts, duration percentiles, init/restore/instance-wait averages, billing, and
        its asynchronous queue (depth, oldest event's age, retries, outcomes);
        ?since= (epoch seconds) limits them to the invocations that started since then."""
        context = state["lambda"]
        try:
            name = request.path_params["name"]
            context.platform.config(name)
            since = request.query_params.get("since")
            stats = await context.platform.stats(name, since=float(since) if since else None)
        except GureumError as error:
            return _error_response(service, error)
        except ValueError:
            return _error_response(service, InvalidParameterValueException("bad since"))
        queue = await context.platform.events.stats(name)
        return JSONResponse({**dataclasses.asdict(stats), "async": dataclasses.asdict(queue)})

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/_gureum/functions/{name}/stats", function_stats, methods=["GET"]),
        Route("/_gureum/code/{sha}", code_download, methods=["GET"]),
        Route("/_gureum/functions/{name}/logs", function_logs, methods=["GET"]),
        *schedule_routes(lambda: state["lambda"], lambda e: _error_response(service, e)),
        *route_routes(lambda: state["lambda"], lambda e: _error_response(service, e)),
    ]
    starlette = Starlette(routes=routes, lifespan=lifespan)
    scheduler = Api(
        scheduler_api.PREFIXES, scheduler_api.scheduler_service(), scheduler_api.OPERATIONS
    )
    services = {
        "s3": s3_app(lambda: state["lambda"]),
        "sqs": sqs_app(lambda: state["lambda"]),
    }
    return ApiDispatcher(service, lambda: state["lambda"], starlette, [scheduler], services)


@dataclasses.dataclass(frozen=True, slots=True)
class Api:
    """One AWS API served on the endpoint: its paths' prefixes, its model, its operations."""

    prefixes: tuple[str, ...]
    service: RestJsonService
    operations: Mapping[str, Callable[[LambdaContext, dict[str, Any]], Awaitable[dict[str, Any]]]]


class ApiDispatcher:
    """The AWS APIs as a bare ASGI app; gureum's own routes and the lifespan go to ``other``.

    Every invocation passes here, so it does no more than the protocol needs: no Request or
    Response objects, one routing lookup, the body passed on as the bytes received.
    """

    def __init__(
        self,
        service: RestJsonService,
        context: Callable[[], LambdaContext],
        other: ASGIApp,
        more: Sequence[Api] = (),
        services: Mapping[str, ASGIApp] | None = None,
    ) -> None:
        self.service = service
        self.context = context
        self.other = other
        self.lambda_api = Api((), service, OPERATIONS)
        self.more = tuple(more)  # other AWS APIs, told apart by their paths' prefixes
        # APIs with their own protocols (S3's REST-XML, SQS's JSON), by SigV4 service name.
        self.services = dict(services or {})
        self.api_prefixes = tuple(p for api in self.more for p in api.prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(OWN_PREFIXES):
            await self.other(scope, receive, send)
            return
        if self.services:
            other_service = self._other_service(scope, path)
            if other_service is not None:
                await other_service(scope, receive, send)
                return
        api = self.lambda_api
        for candidate in self.more:
            if path.startswith(candidate.prefixes):
                api = candidate
        try:
            reply = await self.dispatch(api, scope, path, receive)
        except GureumError as error:
            reply = api.service.serialize_error(error)
        except Exception:
            log.exception("unexpected error in %s %s", scope["method"], path)
            reply = api.service.serialize_error(ServiceException("Internal error in gureum"))
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
        headers.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})

    def _other_service(self, scope: Scope, path: str) -> ASGIApp | None:
        """The S3 or SQS app for this request, or None for the Lambda-style APIs. The signing
        service decides; an unsigned request is S3's (a plain GET of an object) unless its path
        is one of the Lambda or Scheduler APIs'."""
        service = aws_service(scope)
        if service is None:
            if LAMBDA_PATH.match(path) or path.startswith(self.api_prefixes):
                return None
            service = "s3"
        return self.services.get(service)

    async def dispatch(
        self, api: Api, scope: Scope, path: str, receive: Receive
    ) -> restjson.Response:
        service = api.service
        query: dict[str, list[str]] = {}
        if scope["query_string"]:
            for key, value in parse_qsl(scope["query_string"].decode("latin-1"), True):
                query.setdefault(key, []).append(value)
        operation, path_params = service.match(scope["method"], path, query)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        body = await read_body(receive, MAX_BODY_BYTES)
        params = service.parse(operation, path_params, query, headers, body)
        handler = api.operations.get(operation.name)
        if handler is None:
            raise ResourceNotFoundException(f"{operation.name} is not supported by gureum yet")
        host = headers.get("host") or "{}:{}".format(*scope.get("server") or ("127.0.0.1", 80))
        endpoint_url.set(f"{scope.get('scheme', 'http')}://{host}")
        result = await handler(self.context(), params)
        return service.serialize(operation, result)


LAMBDA_PATH = re.compile(r"/20\d\d-\d\d-\d\d/")
# The Scheduler API's paths (gateway/scheduler_api.py's PREFIXES): not buckets.
OTHER_API_PREFIXES = ("/schedules", "/schedule-groups")


def is_s3_request(scope: Scope) -> bool:
    """Whether the dispatcher sends this request to the S3 API: signed for s3, or unsigned on a
    path that is none of the other APIs'."""
    service = aws_service(scope)
    if service is not None:
        return service == "s3"
    path = scope.get("path", "")
    return not (LAMBDA_PATH.match(path) or path.startswith((*OTHER_API_PREFIXES, *OWN_PREFIXES)))


def aws_service(scope: Scope) -> str | None:
    """The service a request is for: the one its SigV4 credential scope names (header or
    presigned query), or SQS for an ``X-Amz-Target: AmazonSQS.*`` request."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            credential = value.partition(b"Credential=")[2].split(b",", 1)[0].split(b"/")
            return credential[3].decode("latin-1") if len(credential) == 5 else None
        if name == b"x-amz-target" and value.startswith(b"AmazonSQS."):
            return "sqs"
    query = scope.get("query_string", b"")
    if b"X-Amz-Credential=" in query:
        credential = unquote(
            query.partition(b"X-Amz-Credential=")[2].split(b"&", 1)[0].decode("latin-1")
        ).split("/")
        return credential[3] if len(credential) == 5 else None
    return None


async def _warm(platform: Platform, runtime: str) -> None:
    try:
        await platform.sandboxes.warm(runtime)
    except GureumError as error:
        log.warning("could not prepare %s ahead of its first cold start: %s", runtime, error)


def _error_response(service: RestJsonService, error: GureumError) -> Response:
    reply = service.serialize_error(error)
    return Response(reply.body, status_code=reply.status, headers=dict(reply.headers))
