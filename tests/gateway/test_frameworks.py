"""The web frameworks people already run on Lambda, deployed from examples/ with `gureum deploy`
(which vendors each example's requirements.txt) and reached over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.gateway.conftest import Server
from tests.gateway.http_functions import http

__all__ = ["http"]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def deploy(server: Server, example: str) -> str:
    """`gureum deploy examples/<example>`, as its README says; returns the function's name."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "GUREUM_ENDPOINT": server.url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "gureum", "deploy", str(EXAMPLES / example), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (function,) = json.loads(done.stdout)["functions"]
    name: str = function["name"]
    return name


@pytest.fixture(scope="module")
def books(server: Server) -> None:
    """FastAPI + Mangum, behind the route ANY /{proxy+} its gureum.yaml declares."""
    name = deploy(server, "fastapi-mangum")
    routes = httpx.get(f"{server.url}/_gureum/routes").json()["routes"]
    assert {"owner": name, "route": "ANY /{proxy+}", "function": name} in [
        {k: r[k] for k in ("owner", "route", "function")} for r in routes
    ]


@pytest.fixture(scope="module")
def notes(server: Server, lam: Any) -> str:
    """Flask + apig-wsgi, behind a function URL; returns its path prefix."""
    name = deploy(server, "flask-wsgi")
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    return "/_lambda-url/" + urlsplit(url).netloc.split(".")[0]


@pytest.fixture(scope="module")
def todos(server: Server, lam: Any) -> str:
    """Powertools' APIGatewayHttpResolver, behind a function URL; returns its Host."""
    name = deploy(server, "powertools-http")
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    return urlsplit(url).netloc


def test_fastapi_behind_mangum(books: None, http: httpx.Client) -> None:
    got = http.get("/books/1", params={"fields": "title,year"})
    assert (got.status_code, got.json()) == (200, {"title": "The Cloud Atlas", "year": 2004})
    assert got.headers["content-type"] == "application/json"

    added = http.post(
        "/books", json={"title": "Dune", "year": 1965}, headers={"x-request-source": "tests"}
    )
    assert added.status_code == 201
    assert added.json() == {"id": 2, "title": "Dune", "year": 1965, "source": "tests"}

    missing = http.get("/books/99")
    assert (missing.status_code, missing.json()) == (404, {"detail": "no book 99"})
    assert http.get("/books/not-a-number").status_code == 422  # FastAPI's own validation
    assert http.get("/nowhere").json() == {"detail": "Not Found"}  # FastAPI's 404, not gureum's


def test_flask_behind_apig_wsgi(notes: str, http: httpx.Client) -> None:
    got = http.get(f"{notes}/notes/welcome", params={"shout": "1"})
    assert got.status_code == 200
    assert got.json() == {"name": "welcome", "text": "Hello from Flask on gureum", "shout": True}

    put = http.post(
        f"{notes}/notes/todo", json={"text": "buy milk"}, headers={"user-agent": "tests/1"}
    )
    assert put.status_code == 201
    assert put.headers["x-note"] == "todo"
    assert put.json() == {"name": "todo", "text": "buy milk", "agent": "tests/1"}

    missing = http.get(f"{notes}/notes/nothing")
    assert missing.status_code == 404
    assert "Not Found" in missing.text  # Flask's own HTML page
    assert missing.headers["content-type"].startswith("text/html")


def test_powertools_http_resolver(todos: str, http: httpx.Client) -> None:
    got = http.get("/todos/1?verbose=1", headers={"host": todos})
    assert got.status_code == 200
    assert got.json() == {"id": "1", "title": "deploy to gureum", "done": True, "verbose": True}

    added = http.post(
        "/todos", json={"title": "write docs"}, headers={"host": todos, "x-tenant": "acme"}
    )
    assert added.status_code == 201
    assert added.headers["x-created"] == "2"
    assert added.json() == {"id": "2", "title": "write docs", "tenant": "acme"}

    missing = http.get("/todos/9", headers={"host": todos})
    assert (missing.status_code, missing.json()) == (
        404,
        {"statusCode": 404, "message": "no todo 9"},
    )
    assert http.get("/elsewhere", headers={"host": todos}).status_code == 404


def test_powertools_behind_the_routes_its_gureum_yaml_declares(
    todos: str, http: httpx.Client
) -> None:
    got = http.get("/todos/1")  # no URL host: the route GET /todos/{id}
    assert got.status_code == 200
    assert got.json() == {"id": "1", "title": "deploy to gureum", "done": True, "verbose": False}
    assert http.delete("/todos/1").status_code == 404  # only GET and POST are routed
