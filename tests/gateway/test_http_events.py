"""API Gateway's proxy events, field by field, and the mapping of function results to responses."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from gureum.gateway.http_events import (
    HttpRequest,
    HttpResponse,
    MalformedResponse,
    RequestInfo,
    error_response,
    event_function_url,
    event_v1,
    event_v2,
    response_v1,
    response_v2,
)

HEADERS = [
    ("Host", "abc123.execute-api.local"),
    ("User-Agent", "curl/8.5"),
    ("Accept", "text/html"),
    ("accept", "application/json"),
    ("Cookie", "a=1; b=2"),
    ("Cookie", "c=3"),
    ("Content-Type", "application/json; charset=utf-8"),
    ("X-Empty", ""),
]
REQUEST = HttpRequest(
    method="POST",
    raw_path="/users/a%20b/files",
    raw_query="tag=x&tag=y&q=caf%C3%A9+au+lait&flag&&empty=",
    headers=HEADERS,
    body='{"name": "\u00e9"}'.encode(),
    source_ip="203.0.113.9",
)
INFO = RequestInfo(
    request_id="req-1",
    time_epoch_ms=1583348638390,
    api_id="abc123",
    domain_name="abc123.execute-api.local:8080",
    stage="prod",
    route_key="POST /users/{id}/files",
    resource="/users/{id}/files",
    path_parameters={"id": "a b"},
)


def v2(request: HttpRequest = REQUEST, info: RequestInfo = INFO) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(event_v2(request, info))
    return event


def v1(request: HttpRequest = REQUEST, info: RequestInfo = INFO) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(event_v1(request, info))
    return event


def with_body(body: bytes, content_type: str | None) -> HttpRequest:
    headers = [("Content-Type", content_type)] if content_type is not None else []
    return HttpRequest("PUT", "/", "", headers, body, "127.0.0.1")


# Payload format 2.0


def test_v2_top_level_fields() -> None:
    event = v2()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /users/{id}/files"
    assert event["rawPath"] == "/users/a%20b/files"
    assert event["rawQueryString"] == "tag=x&tag=y&q=caf%C3%A9+au+lait&flag&&empty="
    assert event["pathParameters"] == {"id": "a b"}
    assert "stageVariables" not in event


def test_v2_cookies_leave_the_headers() -> None:
    event = v2()
    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in event["headers"]


def test_v2_headers_lower_case_and_repeats_joined_with_commas() -> None:
    assert v2()["headers"] == {
        "host": "abc123.execute-api.local",
        "user-agent": "curl/8.5",
        "accept": "text/html,application/json",
        "content-type": "application/json; charset=utf-8",
        "x-empty": "",
    }


def test_v2_query_parameters_decoded_and_repeats_joined() -> None:
    assert v2()["queryStringParameters"] == {
        "tag": "x,y",
        "q": "caf\u00e9 au lait",
        "flag": "",
        "empty": "",
    }


def test_v2_request_context() -> None:
    assert v2()["requestContext"] == {
        "accountId": "123456789012",
        "apiId": "abc123",
        "domainName": "abc123.execute-api.local:8080",
        "domainPrefix": "abc123",
        "http": {
            "method": "POST",
            "path": "/users/a%20b/files",
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.9",
            "userAgent": "curl/8.5",
        },
        "requestId": "req-1",
        "routeKey": "POST /users/{id}/files",
        "stage": "prod",
        "time": "04/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1583348638390,
    }


def test_v2_text_body() -> None:
    event = v2()
    assert event["body"] == '{"name": "\u00e9"}'
    assert event["isBase64Encoded"] is False


def test_v2_absent_parts_are_omitted() -> None:
    bare = HttpRequest("GET", "/", "", [("Host", "h")], b"", "::1")
    event = v2(bare, RequestInfo("r", 0, "api", "h"))
    for absent in ("cookies", "queryStringParameters", "pathParameters", "body"):
        assert absent not in event
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["time"] == "01/Jan/1970:00:00:00 +0000"
    assert event["requestContext"]["http"]["userAgent"] == ""


def test_explicit_user_agent_wins_over_header() -> None:
    request = HttpRequest("GET", "/", "", HEADERS, b"", "::1", user_agent="custom")
    assert v2(request)["requestContext"]["http"]["userAgent"] == "custom"
    assert v1(request)["requestContext"]["identity"]["userAgent"] == "custom"


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "TEXT/HTML; charset=utf-8",
        "application/json",
        "application/problem+json",
        "application/xml",
        "image/svg+xml",
        "application/javascript",
        "application/x-www-form-urlencoded",
    ],
)
def test_textual_content_types_are_sent_as_text(content_type: str) -> None:
    event = v2(with_body(b"a=1&b=\xc3\xa9", content_type))
    assert (event["body"], event["isBase64Encoded"]) == ("a=1&b=\u00e9", False)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\x89PNG\r\n\x1a\n\x00", "image/png"),
        (b"plain words", "application/octet-stream"),
        (b"plain words", None),  # no content type: binary, as on function URLs
        (b"\xff\xfe not utf-8", "text/plain"),  # textual type, but not UTF-8
    ],
)
def test_binary_bodies_are_base64(body: bytes, content_type: str | None) -> None:
    for event in (v2(with_body(body, content_type)), v1(with_body(body, content_type))):
        assert event["isBase64Encoded"] is True
        assert base64.b64decode(event["body"]) == body


def test_function_url_event_has_placeholders() -> None:
    event = json.loads(event_function_url(REQUEST, INFO))
    assert event["routeKey"] == "$default"
    assert event["requestContext"]["routeKey"] == "$default"
    assert event["requestContext"]["stage"] == "$default"
    assert "pathParameters" not in event
    assert event["rawPath"] == "/users/a%20b/files"
    assert event["cookies"] == ["a=1", "b=2", "c=3"]


# Payload format 1.0


def test_v1_top_level_fields() -> None:
    event = v1()
    assert event["resource"] == "/users/{id}/files"
    assert event["path"] == "/users/a%20b/files"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"id": "a b"}
    assert event["stageVariables"] is None
    assert event["body"] == '{"name": "\u00e9"}'
    assert event["isBase64Encoded"] is False


def test_v1_headers_keep_spelling_and_last_value() -> None:
    event = v1()
    assert event["headers"]["Accept"] == "application/json"
    assert event["multiValueHeaders"]["Accept"] == ["text/html", "application/json"]
    assert event["headers"]["Cookie"] == "c=3"
    assert event["multiValueHeaders"]["Cookie"] == ["a=1; b=2", "c=3"]
    assert event["headers"]["Content-Type"] == "application/json; charset=utf-8"


def test_v1_query_parameters() -> None:
    event = v1()
    assert event["queryStringParameters"] == {
        "tag": "y",
        "q": "caf\u00e9 au lait",
        "flag": "",
        "empty": "",
    }
    assert event["multiValueQueryStringParameters"]["tag"] == ["x", "y"]


def test_v1_absent_parts_are_null() -> None:
    bare = HttpRequest("GET", "/", "", [], b"", "::1")
    event = v1(bare, RequestInfo("r", 0, "api", "h"))
    for null in (
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "body",
    ):
        assert event[null] is None, null
    assert event["requestContext"]["identity"]["userAgent"] is None


def test_v1_request_context() -> None:
    context = v1()["requestContext"]
    assert context["resourcePath"] == "/users/{id}/files"
    assert context["httpMethod"] == "POST"
    assert context["path"] == "/users/a%20b/files"
    assert context["stage"] == "prod"
    assert context["requestId"] == context["extendedRequestId"] == "req-1"
    assert context["requestTime"] == "04/Mar/2020:19:03:58 +0000"
    assert context["requestTimeEpoch"] == 1583348638390
    assert context["domainPrefix"] == "abc123"
    assert context["identity"]["sourceIp"] == "203.0.113.9"
    assert context["identity"]["userAgent"] == "curl/8.5"
    assert context["identity"]["accessKey"] is None


# Responses, payload format 2.0


def payload(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_v2_structured_response() -> None:
    response = response_v2(
        payload(
            {
                "statusCode": 201,
                "headers": {"Content-Type": "text/plain", "X-Count": 3, "X-On": True},
                "cookies": ["a=1; Path=/", "b=2"],
                "body": "created",
            }
        )
    )
    assert response == HttpResponse(
        201,
        [
            ("Content-Type", "text/plain"),
            ("X-Count", "3"),
            ("X-On", "true"),
            ("set-cookie", "a=1; Path=/"),
            ("set-cookie", "b=2"),
        ],
        b"created",
    )


def test_v2_base64_body() -> None:
    body = base64.b64encode(b"\x00\xffbinary").decode()
    response = response_v2(payload({"statusCode": 200, "body": body, "isBase64Encoded": True}))
    assert response.body == b"\x00\xffbinary"


def test_v2_status_only() -> None:
    assert response_v2(b'{"statusCode": 204}') == HttpResponse(204, [], b"")


@pytest.mark.parametrize(
    "raw",
    [b'"Hello from Lambda!"', b'{"message": "hi"}', b"42", b"[1, 2]", b"null", b"true"],
)
def test_v2_inferred_response(raw: bytes) -> None:
    assert response_v2(raw) == HttpResponse(200, [("content-type", "application/json")], raw)


def test_v2_ignores_multi_value_headers() -> None:
    response = response_v2(payload({"statusCode": 200, "multiValueHeaders": {"X-A": ["1", "2"]}}))
    assert response.headers == []


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ({"statusCode": "200"}, "'statusCode' must be an integer"),
        ({"statusCode": 99}, "'statusCode' must be an integer"),
        ({"statusCode": 600}, "'statusCode' must be an integer"),
        ({"statusCode": True}, "'statusCode' must be an integer"),
        ({"statusCode": None}, "'statusCode' must be an integer"),
        ({"statusCode": 200, "body": {"a": 1}}, "'body' must be a string"),
        ({"statusCode": 200, "headers": ["a"]}, "'headers' must be an object"),
        ({"statusCode": 200, "headers": {"X": {"n": 1}}}, "header 'X'"),
        ({"statusCode": 200, "cookies": "a=1"}, "'cookies' must be a list"),
        ({"statusCode": 200, "body": "%%%", "isBase64Encoded": True}, "not valid base64"),
        ({"statusCode": 200, "body": "aGk=", "isBase64Encoded": "yes"}, "'isBase64Encoded'"),
        ({"statusCode": 200, "headers": {"X": "a\r\nSet-Cookie: evil=1"}}, "line breaks"),
        ({"statusCode": 200, "cookies": ["a=1\r\nX-Evil: 1"]}, "line breaks"),
        ({"statusCode": 200, "body": "\ud800"}, "not valid Unicode"),
    ],
)
def test_v2_malformed(result: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        response_v2(payload(result))


@pytest.mark.parametrize("raw", [b"not json", b"", b'{"statusCode": 200', b"\xff"])
def test_not_json_is_malformed(raw: bytes) -> None:
    for mapping in (response_v2, response_v1):
        with pytest.raises(MalformedResponse, match="not JSON"):
            mapping(raw)


def test_base64_with_line_breaks_is_accepted() -> None:
    body = base64.encodebytes(b"x" * 100).decode()  # wraps at 76 characters
    response = response_v2(payload({"statusCode": 200, "body": body, "isBase64Encoded": True}))
    assert response.body == b"x" * 100


# Responses, payload format 1.0


def test_v1_headers_and_multi_value_headers_merge() -> None:
    response = response_v1(
        payload(
            {
                "statusCode": 302,
                "headers": {"Location": "/next", "Set-Cookie": "dropped=1", "X-N": 1.5},
                "multiValueHeaders": {"set-cookie": ["a=1", "b=2"], "Vary": ["Accept"]},
                "body": None,
            }
        )
    )
    assert response == HttpResponse(
        302,
        [
            ("Location", "/next"),
            ("X-N", "1.5"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("Vary", "Accept"),
        ],
        b"",
    )


def test_v1_base64_body() -> None:
    response = response_v1(
        payload({"statusCode": 200, "body": "AAEC", "isBase64Encoded": True, "cookies": ["x"]})
    )
    assert response == HttpResponse(200, [], b"\x00\x01\x02")  # 'cookies' is 2.0 only


@pytest.mark.parametrize(
    "result",
    [
        "Hello",
        {"message": "no status"},
        [200],
        {"statusCode": 200, "multiValueHeaders": {"A": "1"}},
        {"statusCode": 200, "body": 5},
        {"statusCode": 1000},
    ],
)
def test_v1_malformed(result: Any) -> None:
    with pytest.raises(MalformedResponse):
        response_v1(payload(result))


def test_error_response_shape() -> None:
    assert error_response(500, "Internal Server Error") == HttpResponse(
        500, [("content-type", "application/json")], b'{"message":"Internal Server Error"}'
    )
    assert json.loads(error_response(404, "Not Found").body) == {"message": "Not Found"}
