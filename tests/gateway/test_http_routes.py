"""HTTP routes on the user-facing listener: the /_gureum/routes API, routing, payload formats,
and what survives a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import Server, create, start_server, unique
from tests.gateway.http_functions import EVENT_ECHO, RESPONDER, http, json_of

__all__ = ["http"]


def put_routes(server: Server, owner: str, routes: list[dict[str, str]]) -> httpx.Response:
    return httpx.put(f"{server.url}/_gureum/routes/{owner}", json={"routes": routes}, timeout=60)


def listed(server: Server) -> list[dict[str, str]]:
    routes: list[dict[str, str]] = json_of(httpx.get(f"{server.url}/_gureum/routes"))["routes"]
    return routes


def test_routes_are_set_listed_replaced_and_deleted(lam: Any, server: Server) -> None:
    owner, fn = unique("app"), unique("routed")
    create(lam, fn, EVENT_ECHO)
    first = [
        {"route": f"GET /{owner}/a", "function": fn},
        {"route": f"GET /{owner}/b", "function": fn},
    ]
    assert put_routes(server, owner, first).status_code == 200
    mine = [r for r in listed(server) if r["owner"] == owner]
    assert mine == [
        {"owner": owner, "route": f"GET /{owner}/a", "function": fn, "payloadFormat": "2.0"},
        {"owner": owner, "route": f"GET /{owner}/b", "function": fn, "payloadFormat": "2.0"},
    ]
    # Redeploying an owner replaces exactly its routes.
    second = [{"route": f"POST /{owner}/c", "function": fn, "payloadFormat": "1.0"}]
    assert put_routes(server, owner, second).status_code == 200
    assert [r["route"] for r in listed(server) if r["owner"] == owner] == [f"POST /{owner}/c"]

    deleted = httpx.delete(f"{server.url}/_gureum/routes/{owner}")
    assert deleted.status_code == 204
    assert [r for r in listed(server) if r["owner"] == owner] == []
    again = httpx.delete(f"{server.url}/_gureum/routes/{owner}")
    assert (again.status_code, again.headers["x-amzn-errortype"]) == (
        404,
        "ResourceNotFoundException",
    )


@pytest.mark.parametrize(
    ("routes", "status", "error"),
    [
        ([{"route": "GET users", "function": "{fn}"}], 400, "InvalidParameterValueException"),
        ([{"route": "GET /x/", "function": "{fn}"}], 400, "InvalidParameterValueException"),
        (
            [{"route": "GET /x", "function": "{fn}", "payloadFormat": "3.0"}],
            400,
            "InvalidParameterValueException",
        ),
        ([{"route": "GET /x", "function": "no-such-fn"}], 404, "ResourceNotFoundException"),
        ([{"route": "GET /x", "function": "{fn}:no-alias"}], 404, "ResourceNotFoundException"),
        ([{"route": "GET /x"}], 400, "InvalidParameterValueException"),
    ],
)
def test_bad_routes_are_refused(
    lam: Any, server: Server, routes: list[dict[str, str]], status: int, error: str
) -> None:
    fn = unique("routed")
    create(lam, fn, EVENT_ECHO)
    routes = [{k: v.replace("{fn}", fn) for k, v in r.items()} for r in routes]
    response = put_routes(server, unique("bad"), routes)
    assert (response.status_code, response.headers["x-amzn-errortype"]) == (status, error)


def test_a_key_belongs_to_one_owner(lam: Any, server: Server) -> None:
    fn, first, second = unique("routed"), unique("app"), unique("app")
    create(lam, fn, EVENT_ECHO)
    assert put_routes(server, first, [{"route": f"GET /{first}/{{id}}", "function": fn}]).is_success
    for key in (f"GET /{first}/{{id}}", f"GET /{first}/{{other}}"):  # the same key, or its shape
        refused = put_routes(server, second, [{"route": key, "function": fn}])
        assert (refused.status_code, refused.headers["x-amzn-errortype"]) == (
            409,
            "ResourceConflictException",
        )
    assert [r["owner"] for r in listed(server) if r["route"].startswith(f"GET /{first}/")] == [
        first
    ]


def test_route_precedence_end_to_end(lam: Any, server: Server, http: httpx.Client) -> None:
    fn, owner = unique("routed"), unique("app")
    create(lam, fn, EVENT_ECHO)
    keys = ["GET /users/{id}", "GET /users/me", "ANY /users/{rest+}", "ANY /{proxy+}", "$default"]
    assert put_routes(server, owner, [{"route": k, "function": fn} for k in keys]).is_success
    try:

        def routed(method: str, path: str) -> tuple[str, dict[str, str] | None]:
            event = json_of(http.request(method, path))
            return event["routeKey"], event.get("pathParameters")

        assert routed("GET", "/users/me") == ("GET /users/me", None)
        assert routed("GET", "/users/42") == ("GET /users/{id}", {"id": "42"})
        assert routed("GET", "/users/a%2Fb") == ("GET /users/{id}", {"id": "a/b"})
        assert routed("POST", "/users/42") == ("ANY /users/{rest+}", {"rest": "42"})
        assert routed("GET", "/users/42/posts") == ("ANY /users/{rest+}", {"rest": "42/posts"})
        assert routed("DELETE", "/other/thing") == ("ANY /{proxy+}", {"proxy": "other/thing"})
        assert routed("GET", "/") == ("$default", None)
    finally:
        httpx.delete(f"{server.url}/_gureum/routes/{owner}")
    assert http.get("/users/me").status_code == 404


def test_payload_format_1_0(lam: Any, server: Server, http: httpx.Client) -> None:
    echo, responder, owner = unique("routed"), unique("routed"), unique("app")
    create(lam, echo, EVENT_ECHO)
    create(lam, responder, RESPONDER)
    routes = [
        {"route": f"GET /{owner}/items/{{id}}", "function": echo, "payloadFormat": "1.0"},
        {"route": f"POST /{owner}/respond", "function": responder, "payloadFormat": "1.0"},
    ]
    assert put_routes(server, owner, routes).is_success
    response = http.get(
        f"/{owner}/items/7?tag=a&tag=b", headers=[("X-Multi", "1"), ("X-Multi", "2")]
    )
    event = json_of(response)
    assert response.headers["apigw-requestid"] == event["requestContext"]["requestId"]
    assert event["version"] == "1.0"
    assert event["resource"] == f"/{owner}/items/{{id}}"
    assert event["path"] == f"/{owner}/items/7"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "7"}
    assert event["queryStringParameters"] == {"tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"]}
    assert event["multiValueHeaders"]["x-multi"] == ["1", "2"]

    answer = {
        "statusCode": 202,
        "headers": {"x-single": "s"},
        "multiValueHeaders": {"set-cookie": ["a=1", "b=2"], "x-multi": ["1", "2"]},
        "body": "accepted",
    }
    replied = http.post(f"/{owner}/respond", json=answer)
    assert (replied.status_code, replied.text) == (202, "accepted")
    assert replied.headers["x-single"] == "s"
    assert replied.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert replied.headers.get_list("x-multi") == ["1", "2"]
    # 1.0 has no inferred responses: a bare value is a malformed one.
    bare = http.post(f"/{owner}/respond", json={"just": "data"})
    assert (bare.status_code, bare.json()) == (502, {"message": "Internal Server Error"})


def test_a_deleted_function_loses_its_routes(lam: Any, server: Server, http: httpx.Client) -> None:
    fn, keep, owner = unique("routed"), unique("routed"), unique("app")
    create(lam, fn, EVENT_ECHO)
    create(lam, keep, EVENT_ECHO)
    routes = [
        {"route": f"GET /{owner}/gone", "function": fn},
        {"route": f"GET /{owner}/kept", "function": keep},
    ]
    assert put_routes(server, owner, routes).is_success
    lam.delete_function(FunctionName=fn)
    assert [r["route"] for r in listed(server) if r["owner"] == owner] == [f"GET /{owner}/kept"]
    assert http.get(f"/{owner}/gone").status_code == 404
    assert http.get(f"/{owner}/kept").status_code == 200


def test_gureum_routes_lists_them(lam: Any, server: Server) -> None:
    fn, owner = unique("routed"), unique("app")
    create(lam, fn, EVENT_ECHO)
    assert put_routes(server, owner, [{"route": f"ANY /{owner}/{{proxy+}}", "function": fn}])
    env = {**os.environ, "GUREUM_ENDPOINT": server.url, "COLUMNS": "200"}
    command = [sys.executable, "-m", "gureum", "routes"]
    table = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    assert owner in table and f"ANY /{owner}/{{proxy+}}" in table
    as_json = subprocess.run(
        [*command, "--json"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert {"owner": owner, "route": f"ANY /{owner}/{{proxy+}}", "function": fn} in [
        {k: r[k] for k in ("owner", "route", "function")} for r in json.loads(as_json)["routes"]
    ]


def test_urls_and_routes_survive_a_restart(tmp_path: Path) -> None:
    first = start_server(tmp_path / "data")
    try:
        lam = first.client()
        fn = unique("routed")
        create(lam, fn, EVENT_ECHO)
        url = lam.create_function_url_config(FunctionName=fn, AuthType="NONE")["FunctionUrl"]
        assert put_routes(first, "app", [{"route": "GET /hello/{name}", "function": fn}])
    finally:
        first.stop()
    second = start_server(tmp_path / "data")
    try:
        lam = second.client()
        config = lam.get_function_url_config(FunctionName=fn)
        url_id = url.split("//")[1].split(".")[0]
        # Same id; the port is the new listener's.
        assert config["FunctionUrl"].split("//")[1].split(".")[0] == url_id
        assert config["FunctionUrl"].endswith(f":{second.http_url.rsplit(':', 1)[1]}/")
        with httpx.Client(base_url=second.http_url, timeout=60) as client:
            assert json_of(client.get(f"/_lambda-url/{url_id}/p"))["rawPath"] == "/p"
            event = json_of(client.get("/hello/world"))
            assert event["pathParameters"] == {"name": "world"}
    finally:
        second.stop()
