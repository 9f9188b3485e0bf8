"""API Gateway's Lambda proxy contract: the event built from an HTTP request, and the HTTP response
read back from the function's result, in payload formats 2.0 (HTTP APIs, function URLs) and 1.0
(REST API proxy).

Shapes follow "Working with AWS Lambda proxy integrations for HTTP APIs" and "Lambda function URLs
request and response payloads". Where AWS documents nothing, this module does what AWS was seen to
do: the 2.0 ``cookie`` header moves to ``cookies``; query values are decoded with '+' as a space;
a request body is sent as text only when its content type is textual and it is valid UTF-8 (no
content type means binary, as on function URLs); 2.0 responses ignore ``multiValueHeaders``.

Each function runs once per request: one ``json.dumps`` or ``json.loads``, no regular expressions.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    raw_path: str  # as received, percent-encoded
    raw_query: str  # without '?'
    headers: list[tuple[str, str]]  # as received, in order, names in any case, repeats allowed
    body: bytes
    source_ip: str
    user_agent: str | None = None  # None: the User-Agent header's value
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the server knows about a request beyond its bytes."""

    request_id: str
    time_epoch_ms: int
    api_id: str  # for function URLs: the url id
    domain_name: str  # Host header value or configured
    stage: str = "$default"
    route_key: str = "$default"
    resource: str = "/{proxy+}"  # 1.0 only: the route's path template
    path_parameters: dict[str, str] | None = None
    account_id: str = "123456789012"


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]  # may repeat (Set-Cookie, multi-value headers)
    body: bytes


class MalformedResponse(ValueError):
    """The function's result is not a proxy response; API Gateway answers with an error."""


# Media types sent as text: text/* and these endings (application/json, image/svg+xml, ...).
_TEXT_ENDINGS = ("json", "xml", "javascript", "ecmascript", "yaml", "graphql", "urlencoded")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_JSON_TYPE = [("content-type", "application/json")]
# The caller fields of a 1.0 event's requestContext.identity, all null without an authorizer.
_IDENTITY_NULLS = [
    "accessKey",
    "accountId",
    "caller",
    "cognitoAuthenticationProvider",
    "cognitoAuthenticationType",
    "cognitoIdentityId",
    "cognitoIdentityPoolId",
    "principalOrgId",
    "user",
    "userArn",
]


@lru_cache(maxsize=256)
def _is_text(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media.startswith("text/") or media.endswith(_TEXT_ENDINGS)


def _body(content_type: list[str] | None, body: bytes) -> tuple[str | None, bool]:
    """The event's ``body`` and ``isBase64Encoded``, given the request's Content-Type values."""
    if not body:
        return None, False
    if content_type and _is_text(content_type[0]):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass  # declared as text but is not: sent like any binary body
    return base64.b64encode(body).decode("ascii"), True


def _grouped(headers: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name.lower(), []).append(value)
    return grouped


def _query(raw_query: str) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for piece in raw_query.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            params.setdefault(_decode(name), []).append(_decode(value))
    return params


def _decode(text: str) -> str:
    return unquote_plus(text) if "%" in text or "+" in text else text


def _clock(epoch_ms: int) -> str:
    # Fixed English month names: strftime's %b follows the process locale.
    t = time.gmtime(epoch_ms // 1000)
    return (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def _domain_prefix(domain: str) -> str:
    host = domain if domain.startswith("[") else domain.partition(":")[0]
    return host.partition(".")[0]


def _dumps(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def event_v2(request: HttpRequest, info: RequestInfo) -> bytes:
    """Payload format 2.0, as an HTTP API sends it: the function's event, as JSON bytes."""
    grouped = _grouped(request.headers)
    cookie_headers = grouped.pop("cookie", None)
    body, is_base64 = _body(grouped.get("content-type"), request.body)
    user_agent = request.user_agent
    if user_agent is None:
        user_agent = ",".join(grouped.get("user-agent", ()))
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": info.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookie_headers:
        event["cookies"] = [c for h in cookie_headers for c in h.split("; ") if c]
    event["headers"] = {name: ",".join(values) for name, values in grouped.items()}
    query = _query(request.raw_query)
    if query:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in query.items()}
    if info.path_parameters:
        event["pathParameters"] = info.path_parameters
    event["requestContext"] = {
        "accountId": info.account_id,
        "apiId": info.api_id,
        "domainName": info.domain_name,
        "domainPrefix": _domain_prefix(info.domain_name),
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": user_agent,
        },
        "requestId": info.request_id,
        "routeKey": info.route_key,
        "stage": info.stage,
        "time": _clock(info.time_epoch_ms),
        "timeEpoch": info.time_epoch_ms,
    }
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = is_base64
    return _dumps(event)


def event_function_url(request: HttpRequest, info: RequestInfo) -> bytes:
    """A function URL's event: format 2.0 with the route and stage fields as placeholders."""
    placeholder = replace(info, stage="$default", route_key="$default", path_parameters=None)
    return event_v2(request, placeholder)


def event_v1(request: HttpRequest, info: RequestInfo) -> bytes:
    """Payload format 1.0 (REST API proxy): the function's event, as JSON bytes."""
    # 1.0 keeps header names as the client spelled them (the first spelling, for repeats).
    spelled: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in request.headers:
        multi.setdefault(spelled.setdefault(name.lower(), name), []).append(value)
    body, is_base64 = _body(multi.get(spelled.get("content-type", "")), request.body)
    user_agent = request.user_agent
    if user_agent is None and "user-agent" in spelled:
        user_agent = multi[spelled["user-agent"]][-1]
    query = _query(request.raw_query)
    event: dict[str, Any] = {
        "version": "1.0",
        "resource": info.resource,
        "path": request.raw_path,
        "httpMethod": request.method,
        # The single-value maps hold the last value, as API Gateway's do.
        "headers": {name: values[-1] for name, values in multi.items()} if multi else None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} if query else None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": info.path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": info.account_id,
            "apiId": info.api_id,
            "domainName": info.domain_name,
            "domainPrefix": _domain_prefix(info.domain_name),
            "extendedRequestId": info.request_id,
            "httpMethod": request.method,
            "identity": {
                **dict.fromkeys(_IDENTITY_NULLS),
                "sourceIp": request.source_ip,
                "userAgent": user_agent,
            },
            "path": request.raw_path,
            "protocol": request.protocol,
            "requestId": info.request_id,
            "requestTime": _clock(info.time_epoch_ms),
            "requestTimeEpoch": info.time_epoch_ms,
            "resourceId": None,
            "resourcePath": info.resource,
            "stage": info.stage,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }
    return _dumps(event)


def _load(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError both
        raise MalformedResponse(f"the function's response is not JSON: {e}") from None


def _header_value(name: str, value: Any) -> str:
    # Functions return numbers and booleans as header values; API Gateway writes them as JSON.
    text: str
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = json.dumps(value)
    else:
        kind = type(value).__name__
        raise MalformedResponse(f"header {name!r}: value must be a string, not {kind}")
    # A line break would let a function write headers (or a body) of its own choosing.
    if "\n" in text or "\r" in text or "\n" in name or "\r" in name:
        raise MalformedResponse(f"header {name!r}: line breaks are not allowed")
    return text


def _headers(response: dict[str, Any]) -> list[tuple[str, str]]:
    headers = response.get("headers")
    if headers is None:
        return []
    if not isinstance(headers, dict):
        raise MalformedResponse("'headers' must be an object of strings")
    return [(k, _header_value(k, v)) for k, v in headers.items() if v is not None]


def _multi_value_headers(response: dict[str, Any]) -> list[tuple[str, str]]:
    multi = response.get("multiValueHeaders")
    if multi is None:
        return []
    if not isinstance(multi, dict):
        raise MalformedResponse("'multiValueHeaders' must be an object of string lists")
    out: list[tuple[str, str]] = []
    for name, values in multi.items():
        if values is None:
            continue
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders {name!r}: value must be a list")
        out.extend((name, _header_value(name, v)) for v in values if v is not None)
    return out


def _status_and_body(response: dict[str, Any]) -> tuple[int, bytes]:
    status = response["statusCode"]
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedResponse(f"'statusCode' must be an integer from 100 to 599, not {status!r}")
    body = response.get("body")
    if body is None:
        return status, b""
    if not isinstance(body, str):
        raise MalformedResponse(f"'body' must be a string, not {type(body).__name__}")
    encoded = response.get("isBase64Encoded")
    if encoded is not None and not isinstance(encoded, bool):
        raise MalformedResponse("'isBase64Encoded' must be true or false")
    if encoded:
        try:
            # Line breaks are tolerated: base64 encoders that wrap lines are common.
            return status, base64.b64decode(body.replace("\n", "").replace("\r", ""), validate=True)
        except (binascii.Error, ValueError):
            raise MalformedResponse("'body' is not valid base64") from None
    try:
        return status, body.encode()
    except UnicodeEncodeError:  # a lone surrogate from a "\ud800" escape
        raise MalformedResponse("'body' is not valid Unicode") from None


def response_v2(payload: bytes) -> HttpResponse:
    """The HTTP response for a 2.0 function result; MalformedResponse when it cannot be one."""
    result = _load(payload)
    if not isinstance(result, dict) or "statusCode" not in result:
        # API Gateway's inference: any other JSON value is the body of a 200.
        return HttpResponse(200, list(_JSON_TYPE), payload)
    status, body = _status_and_body(result)
    headers = _headers(result)
    cookies = result.get("cookies")
    if cookies is not None:
        if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
            raise MalformedResponse("'cookies' must be a list of strings")
        headers.extend(("set-cookie", _header_value("set-cookie", c)) for c in cookies)
    return HttpResponse(status, headers, body)


def response_v1(payload: bytes) -> HttpResponse:
    """The HTTP response for a 1.0 function result; MalformedResponse when it cannot be one."""
    result = _load(payload)
    if not isinstance(result, dict) or "statusCode" not in result:
        raise MalformedResponse("the function's response must be an object with 'statusCode'")
    status, body = _status_and_body(result)
    multi = _multi_value_headers(result)
    # A header in both maps takes its values from multiValueHeaders only, as API Gateway merges.
    overridden = {name.lower() for name, _ in multi}
    headers = [(k, v) for k, v in _headers(result) if k.lower() not in overridden]
    return HttpResponse(status, headers + multi, body)


def error_response(status: int, message: str) -> HttpResponse:
    """An error in API Gateway's own shape: ``{"message":"..."}``."""
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return HttpResponse(status, list(_JSON_TYPE), body)
