"""Function URLs: the Lambda API's URL configs (boto3), and requests to the URLs (httpx)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from gureum.store.keys import KeyStore
from tests.gateway.conftest import Server, create, error_of, start_server, unique
from tests.gateway.http_functions import EVENT_ECHO, RESPONDER, SLEEPER, http, json_of

__all__ = ["http"]

URL_SHAPE = re.compile(r"http://([a-z0-9]{32})\.lambda-url\.us-east-1\.localhost:(\d+)/")


def url_id(config: dict[str, Any]) -> str:
    found = URL_SHAPE.fullmatch(config["FunctionUrl"])
    assert found is not None, config["FunctionUrl"]
    return found.group(1)


def with_url(lam: Any, zip_bytes: bytes, **config: Any) -> str:
    """A new function with a URL; returns the path prefix that reaches it."""
    name = unique("url")
    create(lam, name, zip_bytes, Timeout=config.pop("Timeout", 3))
    created = lam.create_function_url_config(
        FunctionName=name, AuthType=config.pop("AuthType", "NONE"), **config
    )
    return f"/_lambda-url/{url_id(created)}"


# -- the URL config API -------------------------------------------------------------------------


def test_url_config_lifecycle(lam: Any, server: Server) -> None:
    name = unique("url")
    created_fn = create(lam, name)
    cors = {"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET", "POST"], "MaxAge": 60}
    created = lam.create_function_url_config(FunctionName=name, AuthType="NONE", Cors=cors)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionArn"] == created_fn["FunctionArn"]
    assert created["AuthType"] == "NONE"
    assert created["Cors"] == cors
    assert created["InvokeMode"] == "BUFFERED"
    port = URL_SHAPE.fullmatch(created["FunctionUrl"]).group(2)  # type: ignore[union-attr]
    assert server.http_url.endswith(f":{port}")

    got = lam.get_function_url_config(FunctionName=name)
    assert got["FunctionUrl"] == created["FunctionUrl"]
    assert got["CreationTime"] == created["CreationTime"]
    assert "LastModifiedTime" in got

    updated = lam.update_function_url_config(
        FunctionName=name, AuthType="AWS_IAM", Cors={"AllowOrigins": ["*"]}
    )
    assert updated["FunctionUrl"] == created["FunctionUrl"]  # the address never changes
    assert updated["AuthType"] == "AWS_IAM"
    assert updated["Cors"] == {"AllowOrigins": ["*"]}

    listed = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [created["FunctionUrl"]]

    lam.delete_function_url_config(FunctionName=name)
    with pytest.raises(ClientError) as excinfo:
        lam.get_function_url_config(FunctionName=name)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    assert lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []


def test_url_config_errors(lam: Any) -> None:
    name = unique("url")
    create(lam, name, Publish=True)
    lam.create_function_url_config(FunctionName=name, AuthType="NONE")

    def refused(call: Any, **params: Any) -> tuple[str, int]:
        with pytest.raises(ClientError) as excinfo:
            call(**params)
        return error_of(excinfo)[:2]

    create_url = lam.create_function_url_config
    assert refused(create_url, FunctionName=name, AuthType="NONE") == (
        "ResourceConflictException",
        409,
    )
    assert refused(create_url, FunctionName=unique("missing"), AuthType="NONE") == (
        "ResourceNotFoundException",
        404,
    )
    assert refused(create_url, FunctionName=name, Qualifier="nope", AuthType="NONE") == (
        "ResourceNotFoundException",
        404,
    )
    # Versions have no URLs: the model's pattern refuses an all-digit qualifier.
    assert refused(create_url, FunctionName=name, Qualifier="1", AuthType="NONE")[1] == 400
    assert refused(create_url, FunctionName=name, Qualifier="x", AuthType="SOMETIMES")[1] == 400
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert refused(
        create_url,
        FunctionName=name,
        Qualifier="live",
        AuthType="NONE",
        InvokeMode="RESPONSE_STREAM",
    ) == ("InvalidParameterValueException", 400)
    bad_cors = {"AllowMethods": ["FETCH"]}
    assert refused(
        create_url, FunctionName=name, Qualifier="live", AuthType="NONE", Cors=bad_cors
    ) == ("InvalidParameterValueException", 400)
    for call in (lam.get_function_url_config, lam.delete_function_url_config):
        assert refused(call, FunctionName=name, Qualifier="live") == (
            "ResourceNotFoundException",
            404,
        )
    assert refused(
        lam.update_function_url_config, FunctionName=name, Qualifier="live", AuthType="NONE"
    ) == ("ResourceNotFoundException", 404)
    assert refused(lam.list_function_url_configs, FunctionName=unique("missing")) == (
        "ResourceNotFoundException",
        404,
    )


def test_alias_urls_are_listed_and_paginated(lam: Any, http: httpx.Client) -> None:
    name = unique("url")
    create(lam, name, EVENT_ECHO, Publish=True)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    plain = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    live = lam.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="NONE")
    assert live["FunctionArn"].endswith(f":{name}:live")
    assert url_id(live) != url_id(plain)

    first = lam.list_function_url_configs(FunctionName=name, MaxItems=1)
    second = lam.list_function_url_configs(FunctionName=name, Marker=first["NextMarker"])
    pages = first["FunctionUrlConfigs"] + second["FunctionUrlConfigs"]
    assert {c["FunctionUrl"] for c in pages} == {plain["FunctionUrl"], live["FunctionUrl"]}
    assert "NextMarker" not in second

    # The alias's URL runs the alias's version.
    event = json_of(http.get(f"/_lambda-url/{url_id(live)}/"))
    assert event["requestContext"]["apiId"] == url_id(live)


def test_deleting_an_alias_or_a_version_takes_what_was_set_on_it(
    lam: Any, http: httpx.Client
) -> None:
    name = unique("url")
    create(lam, name, EVENT_ECHO, Publish=True)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    live = lam.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="NONE")
    lam.put_function_event_invoke_config(
        FunctionName=name, Qualifier="live", MaximumRetryAttempts=0
    )
    lam.put_function_event_invoke_config(FunctionName=name, Qualifier="1", MaximumRetryAttempts=1)

    lam.delete_alias(FunctionName=name, Name="live")
    assert http.get(f"/_lambda-url/{url_id(live)}/").status_code == 404
    for getter in (lam.get_function_url_config, lam.get_function_event_invoke_config):
        with pytest.raises(ClientError) as excinfo:
            getter(FunctionName=name, Qualifier="live")
        assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    # A new alias of the same name starts bare.
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []

    lam.delete_alias(FunctionName=name, Name="live")
    lam.delete_function(FunctionName=name, Qualifier="1")
    configs = lam.list_function_event_invoke_configs(FunctionName=name)
    assert configs["FunctionEventInvokeConfigs"] == []


# -- requests to a URL ------------------------------------------------------------------------


def test_the_event_a_function_url_sends(lam: Any, http: httpx.Client) -> None:
    prefix = with_url(lam, EVENT_ECHO)
    response = http.post(
        f"{prefix}/orders/42?expand=items&tag=a&tag=b",
        json={"quantity": 2},
        headers={"x-trace": "t1", "cookie": "session=abc; theme=dark", "user-agent": "tests/1"},
    )
    event = json_of(response)
    assert response.headers["x-amzn-requestid"] == event["requestContext"]["requestId"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/orders/42"  # the /_lambda-url/{id} prefix is not the function's
    assert event["rawQueryString"] == "expand=items&tag=a&tag=b"
    assert event["queryStringParameters"] == {"expand": "items", "tag": "a,b"}
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-trace"] == "t1"
    assert event["headers"]["content-type"] == "application/json"
    assert json.loads(event["body"]) == {"quantity": 2}
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    url = prefix.rsplit("/", 1)[1]
    assert context["apiId"] == url
    assert context["domainPrefix"] == url
    assert context["http"] == {
        "method": "POST",
        "path": "/orders/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tests/1",
    }


def test_the_host_form_of_a_url(lam: Any, http: httpx.Client) -> None:
    name = unique("url")
    create(lam, name, EVENT_ECHO)
    config = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    host = urlsplit(config["FunctionUrl"]).netloc
    event = json_of(http.get("/a/b?x=1", headers={"host": host}))
    assert event["rawPath"] == "/a/b"
    assert event["requestContext"]["domainName"] == host
    assert event["requestContext"]["domainPrefix"] == url_id(config)
    unknown = "0" * 32 + host[32:]
    assert http.get("/", headers={"host": unknown}).status_code == 404


def test_responses_are_mapped_as_api_gateway_maps_them(lam: Any, http: httpx.Client) -> None:
    prefix = with_url(lam, RESPONDER)
    bare = http.post(prefix + "/", json={"hello": "world"})
    assert bare.status_code == 200
    assert bare.headers["content-type"] == "application/json"
    assert bare.json() == {"hello": "world"}

    shaped = http.post(
        prefix + "/",
        json={
            "statusCode": 201,
            "headers": {"x-one": "1", "x-number": 7},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": "created",
        },
    )
    assert shaped.status_code == 201
    assert shaped.text == "created"
    assert shaped.headers["x-one"] == "1"
    assert shaped.headers["x-number"] == "7"
    assert shaped.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2"]


def test_binary_bodies_travel_as_base64_both_ways(lam: Any, http: httpx.Client) -> None:
    echo = with_url(lam, EVENT_ECHO)
    blob = bytes(range(256))
    event = json_of(
        http.post(echo + "/", content=blob, headers={"content-type": "application/octet-stream"})
    )
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == blob

    responder = with_url(lam, RESPONDER)
    answer = {"statusCode": 200, "body": base64.b64encode(blob).decode(), "isBase64Encoded": True}
    response = http.post(responder + "/", json=answer)
    assert response.content == blob


def test_failures_answer_in_api_gateways_shape(lam: Any, http: httpx.Client) -> None:
    responder = with_url(lam, RESPONDER)
    malformed = http.post(responder + "/", json={"statusCode": "soon"})
    assert (malformed.status_code, malformed.json()) == (502, {"message": "Internal Server Error"})
    raised = http.post(responder + "/", content=b"not json", headers={"content-type": "text/plain"})
    assert (raised.status_code, raised.json()) == (502, {"message": "Internal Server Error"})

    sleeper = with_url(lam, SLEEPER, Timeout=1)
    timed_out = http.get(sleeper + "/")
    assert (timed_out.status_code, timed_out.json()) == (
        504,
        {"message": "Endpoint request timed out"},
    )

    assert http.get("/_lambda-url/" + "0" * 32 + "/").status_code == 404
    assert http.get("/no/route/here").json() == {"message": "Not Found"}

    too_big = http.post(responder + "/", content=b"x" * (6 * 1024 * 1024 + 1))
    assert too_big.status_code == 413


def test_a_throttled_function_answers_429(lam: Any, http: httpx.Client) -> None:
    name = unique("url")
    create(lam, name, EVENT_ECHO)
    config = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    throttled = http.get(f"/_lambda-url/{url_id(config)}/")
    assert (throttled.status_code, throttled.json()) == (429, {"message": "Too Many Requests"})


def test_cors(lam: Any, http: httpx.Client) -> None:
    cors = {
        "AllowOrigins": ["https://app.example"],
        "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["x-custom"],
        "ExposeHeaders": ["x-one"],
        "MaxAge": 300,
        "AllowCredentials": True,
    }
    prefix = with_url(lam, RESPONDER, Cors=cors)
    preflight = http.options(
        prefix + "/",
        headers={"origin": "https://app.example", "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert preflight.headers["access-control-allow-methods"] == "GET,POST"
    assert preflight.headers["access-control-allow-headers"] == "x-custom"
    assert preflight.headers["access-control-max-age"] == "300"
    assert preflight.headers["access-control-allow-credentials"] == "true"

    answer = {"statusCode": 200, "headers": {"access-control-allow-origin": "*"}, "body": "ok"}
    allowed = http.post(prefix + "/", json=answer, headers={"origin": "https://app.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert allowed.headers["access-control-expose-headers"] == "x-one"
    # The URL's CORS config decides, not the function: another origin gets no CORS headers.
    other = http.post(prefix + "/", json=answer, headers={"origin": "https://evil.example"})
    assert other.text == "ok"
    assert "access-control-allow-origin" not in other.headers


def signed(method: str, url: str, body: bytes, key: str = "any", secret: str = "any") -> Any:
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials(key, secret), "lambda", "us-east-1").add_auth(request)
    return request.prepare()


def test_aws_iam_urls_need_a_signature(lam: Any, server: Server, http: httpx.Client) -> None:
    prefix = with_url(lam, EVENT_ECHO, AuthType="AWS_IAM")
    unsigned = http.post(prefix + "/x", content=b"{}")
    assert (unsigned.status_code, unsigned.json()) == (403, {"Message": "Forbidden"})
    garbled = http.post(prefix + "/x", content=b"{}", headers={"authorization": "Bearer x"})
    assert garbled.status_code == 403

    # On a loopback server with --auth none, any key signs; the signature must be well-formed.
    prepared = signed("POST", f"{server.http_url}{prefix}/x", b"{}")
    response = http.post(prefix + "/x", content=b"{}", headers=dict(prepared.headers))
    event = json_of(response)
    assert event["rawPath"] == "/x"
    assert event["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 ")


def test_aws_iam_urls_check_the_key_on_a_signed_server(tmp_path: Path) -> None:
    with KeyStore(tmp_path / "data") as keys:
        key, secret = keys.create("tests")
    running = start_server(tmp_path / "data", "--auth", "sigv4")
    try:
        lam = boto3.client(
            "lambda",
            endpoint_url=running.url,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )
        running.clients.append(lam)
        prefix = with_url(lam, EVENT_ECHO, AuthType="AWS_IAM")
        url = f"{running.http_url}{prefix}/x?q=1"
        with httpx.Client(timeout=60) as client:
            good = signed("PUT", url, b"body", key, secret)
            assert client.put(url, content=b"body", headers=dict(good.headers)).status_code == 200
            forged = signed("PUT", url, b"body", key, "not-the-secret")
            refused = client.put(url, content=b"body", headers=dict(forged.headers))
            assert (refused.status_code, refused.json()) == (403, {"Message": "Forbidden"})
            unknown = signed("PUT", url, b"body", "AKIDUNKNOWN", secret)
            assert (
                client.put(url, content=b"body", headers=dict(unknown.headers)).status_code == 403
            )
            tampered = client.put(url, content=b"BODY", headers=dict(good.headers))
            assert tampered.status_code == 403
    finally:
        running.stop()
