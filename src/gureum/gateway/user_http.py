"""gureum's user-facing HTTP listener: function URLs and HTTP routes, served as AWS serves them.

A request is for a function URL when its Host is ``{url_id}.lambda-url.{region}.localhost[:port]``
(AWS's shape; ``*.localhost`` resolves to loopback), or its path starts with
``/_lambda-url/{url_id}/`` (for clients that cannot resolve ``*.localhost``; the function sees the
rest of the path). Anything else is matched against the HTTP routes. The function gets API
Gateway's event (``http_events``) and its result becomes the HTTP response; failures answer in
API Gateway's shape: 502 malformed result or function error, 504 timeout, 429 throttle, 404 no
match, 413 request body over 6 MB.

Every request passes here, so this is a bare ASGI app: no Request objects, one dict lookup or one
route-table walk, the body read once.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import TYPE_CHECKING

from starlette.types import Receive, Scope, Send

from ..errors import GureumError, TooManyRequestsException
from ..http_endpoints import UrlConfig, target_of
from . import http_events as events
from .auth import SecretLookup, check_time, read_claim, verify
from .bodies import ClientDisconnected, RequestEntityTooLargeException, read_body
from .http_events import HttpRequest, HttpResponse, MalformedResponse, RequestInfo
from .routes import Match

if TYPE_CHECKING:
    from ..platform import Platform

log = logging.getLogger("gureum.http")

MAX_REQUEST_BYTES = 6 * 1024 * 1024  # API Gateway's and function URLs' payload limit
URL_PATH_PREFIX = "/_lambda-url/"
Headers = list[tuple[str, str]]

NOT_FOUND = events.error_response(404, "Not Found")
TOO_LARGE = events.error_response(413, "Request Entity Too Large")
THROTTLED = events.error_response(429, "Too Many Requests")
INTERNAL = events.error_response(500, "Internal Server Error")
BAD_GATEWAY = events.error_response(502, "Internal Server Error")
TIMED_OUT = events.error_response(504, "Endpoint request timed out")
UNAVAILABLE = events.error_response(503, "Service Unavailable")
# Function URLs' own refusal of an unsigned request to an AWS_IAM URL: note the capital M.
FORBIDDEN = HttpResponse(403, [("content-type", "application/json")], b'{"Message":"Forbidden"}')
# Headers the listener writes itself: a function's own values would contradict the body sent.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})


class UserHttp:
    """The ASGI app of the user-facing listener. ``platform`` is set once it is open (until then
    every request gets 503); ``secret_for`` checks AWS_IAM signatures (None: any key, as on a
    loopback server with ``--auth none``, but the signature must still be well-formed)."""

    def __init__(self, secret_for: SecretLookup | None = None) -> None:
        self.platform: Platform | None = None
        self.secret_for = secret_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return  # lifespan: the management app's lifespan opens and closes the platform
        request_id = str(uuid.uuid4())
        try:
            if self.platform is None:
                response = UNAVAILABLE
            else:
                response = await self.handle(self.platform, scope, receive, request_id)
        except ClientDisconnected:
            return  # nobody reads the answer
        except RequestEntityTooLargeException:
            response = TOO_LARGE
        except Exception:
            log.exception("unexpected error in %s %s", scope["method"], scope["path"])
            response = INTERNAL
        await _send(send, response, request_id, scope["method"])

    async def handle(
        self, platform: Platform, scope: Scope, receive: Receive, request_id: str
    ) -> HttpResponse:
        method: str = scope["method"]
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        raw_query = scope["query_string"].decode("latin-1")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        host = next((v for k, v in headers if k == "host"), "")
        region = platform.settings.engine.region
        url, path, domain = self._function_url(platform, host, raw_path, region)
        if url is None and path is not None:
            return NOT_FOUND  # a function URL's form, with an id nobody has
        match: Match | None = None
        if url is None:
            match = platform.http.match(method, raw_path)
            if match is None:
                return NOT_FOUND
            path, domain = raw_path, host
        assert path is not None
        origin = next((v for k, v in headers if k == "origin"), None)
        if url is not None and url.cors is not None and _is_preflight(method, headers, origin):
            return _preflight(url.cors, origin)
        claim, secret = None, None
        if url is not None and url.auth_type == "AWS_IAM":
            try:
                claim = read_claim(dict(headers), raw_query)
                secret = None if self.secret_for is None else self.secret_for(claim.key_id)
                if self.secret_for is not None:
                    if secret is None:
                        return FORBIDDEN
                    check_time(claim, platform.clock.time())
            except GureumError:
                return FORBIDDEN
        body = await read_body(receive, MAX_REQUEST_BYTES)
        if claim is not None and secret is not None:
            try:
                verify(claim, secret, method, raw_path, headers, body)
            except GureumError:
                return FORBIDDEN
        source = scope.get("client") or ("127.0.0.1", 0)
        request = HttpRequest(
            method,
            path,
            raw_query,
            headers,
            body,
            source[0],
            protocol=f"HTTP/{scope.get('http_version', '1.1')}",
        )
        now_ms = int(platform.clock.time() * 1000)
        if url is not None:
            info = RequestInfo(request_id, now_ms, url.url_id, domain)
            payload = events.event_function_url(request, info)
            response = await self._invoke(platform, url.function, url.qualifier, payload, "2.0")
            return _with_cors(response, url.cors, origin) if url.cors else response
        assert match is not None
        route = match.route
        info = RequestInfo(
            request_id,
            now_ms,
            API_ID,
            domain,
            route_key=route.key,
            resource=route.key.partition(" ")[2] or "/{proxy+}",
            path_parameters=match.path_parameters,
        )
        if route.payload_format == "1.0":
            payload = events.event_v1(request, info)
        else:
            payload = events.event_v2(request, info)
        name, qualifier = target_of(route.target)
        return await self._invoke(platform, name, qualifier, payload, route.payload_format)

    def _function_url(
        self, platform: Platform, host: str, raw_path: str, region: str
    ) -> tuple[UrlConfig | None, str | None, str]:
        """(config, the path the function sees, domain) for a function URL's request; (None,
        path, _) for a function URL's form with an unknown id; (None, None, "") otherwise."""
        suffix = f".lambda-url.{region}.localhost"
        hostname = host.rpartition(":")[0] if ":" in host else host
        hostname = hostname.lower()
        if hostname.endswith(suffix):
            url_id = hostname[: -len(suffix)]
            return platform.http.urls.get(url_id), raw_path, host
        if raw_path.startswith(URL_PATH_PREFIX):
            url_id, _, rest = raw_path[len(URL_PATH_PREFIX) :].partition("/")
            # The domain the URL would have had: its requestContext matches the host form's.
            domain = f"{url_id}{suffix}:{host.rpartition(':')[2]}" if ":" in host else host
            return platform.http.urls.get(url_id), f"/{rest}", domain
        return None, None, ""

    async def _invoke(
        self, platform: Platform, name: str, qualifier: str | None, payload: bytes, fmt: str
    ) -> HttpResponse:
        try:
            result = await platform.invoke(name, payload, qualifier=qualifier)
        except TooManyRequestsException:
            return THROTTLED
        except GureumError as error:
            # A route or URL whose function (or alias) went away, a payload the engine refused.
            log.warning("%s%s: %s", name, f":{qualifier}" if qualifier else "", error.message)
            return INTERNAL
        if result.function_error:
            return TIMED_OUT if _error_type(result.payload) == "Sandbox.Timedout" else BAD_GATEWAY
        try:
            return (
                events.response_v1(result.payload)
                if fmt == "1.0"
                else events.response_v2(result.payload)
            )
        except MalformedResponse as error:
            # The function's author looks in its logs; API Gateway too says only 502 to the client.
            log.warning("%s: malformed response: %s", name, error)
            return BAD_GATEWAY


# The apiId of gureum's one HTTP API (AWS's are 10 lowercase alphanumerics).
API_ID = "gureumhttp"


def _error_type(payload: bytes) -> str | None:
    try:
        error = json.loads(payload)
    except ValueError:
        return None
    return error.get("errorType") if isinstance(error, dict) else None


def _is_preflight(method: str, headers: Headers, origin: str | None) -> bool:
    return (
        method == "OPTIONS"
        and origin is not None
        and any(k == "access-control-request-method" for k, _ in headers)
    )


def _allowed_origin(cors: dict[str, object], origin: str | None) -> str | None:
    """The Access-Control-Allow-Origin value for ``origin``, None if it is not allowed."""
    if origin is None:
        return None
    origins = cors.get("AllowOrigins") or []
    assert isinstance(origins, list)
    if "*" in origins:
        # A credentialed request may not be answered with '*': browsers then ignore the answer.
        return origin if cors.get("AllowCredentials") else "*"
    return origin if origin.lower() in (o.lower() for o in origins) else None


def _preflight(cors: dict[str, object], origin: str | None) -> HttpResponse:
    """A function URL answers preflight requests itself, from its CORS config."""
    allowed = _allowed_origin(cors, origin)
    headers: Headers = [("vary", "Origin")]
    if allowed is not None:
        headers.append(("access-control-allow-origin", allowed))
        for field, header in (
            ("AllowMethods", "access-control-allow-methods"),
            ("AllowHeaders", "access-control-allow-headers"),
        ):
            values = cors.get(field)
            if isinstance(values, list) and values:
                headers.append((header, ",".join(values)))
        if cors.get("AllowCredentials"):
            headers.append(("access-control-allow-credentials", "true"))
        if cors.get("MaxAge") is not None:
            headers.append(("access-control-max-age", str(cors["MaxAge"])))
    return HttpResponse(200, headers, b"")


def _with_cors(response: HttpResponse, cors: dict[str, object], origin: str | None) -> HttpResponse:
    """The URL's CORS config replaces whatever CORS headers the function wrote, as on AWS."""
    headers = [(k, v) for k, v in response.headers if not k.lower().startswith("access-control-")]
    headers.append(("vary", "Origin"))
    allowed = _allowed_origin(cors, origin)
    if allowed is not None:
        headers.append(("access-control-allow-origin", allowed))
        expose = cors.get("ExposeHeaders")
        if isinstance(expose, list) and expose:
            headers.append(("access-control-expose-headers", ",".join(expose)))
        if cors.get("AllowCredentials"):
            headers.append(("access-control-allow-credentials", "true"))
    return HttpResponse(response.status, headers, response.body)


async def _send(send: Send, response: HttpResponse, request_id: str, method: str) -> None:
    body = response.body
    if response.status < 200 or response.status in (204, 304):
        body = b""  # HTTP forbids a body here; h11 would refuse to send one
    headers = [
        # UTF-8, not latin-1: a function's non-Latin header value goes out as its bytes.
        (k.encode(), v.encode())
        for k, v in response.headers
        if k.lower() not in _FRAMING
    ]
    headers.append((b"x-amzn-requestid", request_id.encode()))
    headers.append((b"apigw-requestid", request_id.encode()))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
