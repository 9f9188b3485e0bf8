"""Route keys and API Gateway's route precedence, table by table, without a server."""

from __future__ import annotations

import re

import pytest

from gureum.gateway.routes import Match, Route, RouteKeyError, RouteTable, parse_route_key


def table(*keys: str) -> RouteTable:
    return RouteTable(Route(key, target=key) for key in keys)


def picked(t: RouteTable, method: str, path: str) -> str | None:
    found = t.match(method, path)
    return found.route.key if found is not None else None


# The example API of API Gateway's "Routing API requests".
DOCS_EXAMPLE = table(
    "GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default"
)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/pets/dog/1", "GET /pets/dog/1"),
        ("GET", "/pets/dog/2", "GET /pets/dog/{id}"),
        ("GET", "/pets/cat/1", "GET /pets/{proxy+}"),
        ("POST", "/test/5", "ANY /{proxy+}"),
        ("POST", "/pets/dog/1", "ANY /{proxy+}"),
        ("GET", "/", "$default"),
    ],
)
def test_docs_example(method: str, path: str, expected: str) -> None:
    assert picked(DOCS_EXAMPLE, method, path) == expected


def test_exact_method_beats_any_for_the_same_path() -> None:
    t = table("ANY /users/{id}", "GET /users/{id}")
    assert picked(t, "GET", "/users/7") == "GET /users/{id}"
    assert picked(t, "DELETE", "/users/7") == "ANY /users/{id}"


def test_literal_beats_param_segment_by_segment() -> None:
    t = table("GET /{kind}/latest", "GET /users/{id}", "GET /users/me")
    assert picked(t, "GET", "/users/me") == "GET /users/me"
    assert picked(t, "GET", "/users/latest") == "GET /users/{id}"  # 'users' decides first
    assert picked(t, "GET", "/posts/latest") == "GET /{kind}/latest"


def test_literal_dead_end_backtracks_to_param() -> None:
    t = table("GET /users/me/settings", "GET /users/{id}/posts")
    assert picked(t, "GET", "/users/me/posts") == "GET /users/{id}/posts"
    assert t.match("GET", "/users/me/posts") == Match(
        Route("GET /users/{id}/posts", "GET /users/{id}/posts"), {"id": "me"}
    )


def test_full_match_with_any_beats_greedy_with_exact_method() -> None:
    t = table("GET /files/{proxy+}", "ANY /files/{name}")
    assert picked(t, "GET", "/files/a.txt") == "ANY /files/{name}"
    assert picked(t, "GET", "/files/a/b.txt") == "GET /files/{proxy+}"


def test_longest_greedy_prefix_wins() -> None:
    t = table("ANY /{proxy+}", "ANY /api/{proxy+}", "ANY /api/{version}/{proxy+}")
    assert picked(t, "GET", "/api/v1/x/y") == "ANY /api/{version}/{proxy+}"
    assert picked(t, "GET", "/api/v1") == "ANY /api/{proxy+}"
    assert picked(t, "GET", "/web/index.html") == "ANY /{proxy+}"


def test_method_not_accepted_falls_back_to_less_specific_path() -> None:
    t = table("POST /orders", "GET /{name}", "$default")
    assert picked(t, "GET", "/orders") == "GET /{name}"
    assert picked(t, "PUT", "/orders") == "$default"


def test_no_route_and_no_default_is_none() -> None:
    t = table("GET /health")
    assert t.match("GET", "/other") is None
    assert t.match("POST", "/health") is None


def test_greedy_value_is_the_rest_without_leading_slash() -> None:
    t = table("GET /static/{path+}")
    found = t.match("GET", "/static/css/site%20main.css")
    assert found is not None
    assert found.path_parameters == {"path": "css/site main.css"}


def test_greedy_needs_a_non_empty_rest() -> None:
    t = table("ANY /{proxy+}", "ANY /api/{proxy+}")
    assert t.match("GET", "/") is None
    assert picked(t, "GET", "/api/") == "ANY /{proxy+}"  # "api/" is a non-empty rest at the root
    assert picked(t, "GET", "/api//x") == "ANY /api/{proxy+}"


def test_trailing_slash_is_significant() -> None:
    t = table("POST /todos", "GET /users/{id}")
    assert picked(t, "POST", "/todos") == "POST /todos"
    assert t.match("POST", "/todos/") is None
    assert t.match("GET", "/users/") is None  # {id} never matches an empty segment


def test_root_route() -> None:
    t = table("GET /", "GET /{name}")
    assert picked(t, "GET", "/") == "GET /"
    assert picked(t, "GET", "/x") == "GET /{name}"


def test_parameters_are_decoded_once() -> None:
    t = table("GET /users/{id}/files/{name}")
    found = t.match("GET", "/users/a%2Fb/files/100%2525%20off")
    assert found is not None
    # %2F stays inside its segment; %2525 decodes to %25, not to %.
    assert found.path_parameters == {"id": "a/b", "name": "100%25 off"}


def test_literals_match_the_decoded_path() -> None:
    t = table("GET /v1:batch")
    assert picked(t, "GET", "/v1%3Abatch") == "GET /v1:batch"


def test_path_without_leading_slash_goes_to_default() -> None:
    t = table("ANY /{proxy+}", "$default")
    assert picked(t, "OPTIONS", "*") == "$default"


def test_default_match_has_no_parameters() -> None:
    found = table("$default").match("PATCH", "/anything/at/all")
    assert found == Match(Route("$default", "$default"), {})


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("GET /users/{id}", ("GET", "/users/{id}")),
        ("ANY /{proxy+}", ("ANY", "/{proxy+}")),
        ("OPTIONS /", ("OPTIONS", "/")),
        ("$default", ("$default", "")),
    ],
)
def test_parse_route_key(key: str, parsed: tuple[str, str]) -> None:
    assert parse_route_key(key) == parsed


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("/users", "expected 'METHOD /path' or '$default'"),
        ("FETCH /users", "method 'FETCH' is not one of"),
        ("get /users", "method 'get' is not one of"),
        ("GET users", "must start with '/'"),
        ("GET /users/", "must not end with '/'"),
        ("GET /users//posts", "empty path segment"),
        ("GET /{proxy+}/edit", "greedy variable {proxy+} must be the last segment"),
        ("GET /a/{id}/b/{id}", "variable 'id' appears twice"),
        ("GET /a/{id}/{id+}", "variable 'id' appears twice"),
        ("GET /a/{}", "variable name '' must be"),
        ("GET /a/{bad name}", "variable name 'bad name' must be"),
        ("GET /a/x{id}", "a variable must be a whole segment"),
        ("GET /a/b?c", "has invalid characters"),
        ("GET /a /b", "has invalid characters"),
    ],
)
def test_invalid_keys_say_why(key: str, message: str) -> None:
    with pytest.raises(RouteKeyError, match=re.escape(message)):
        parse_route_key(key)
    with pytest.raises(RouteKeyError):
        table(key)


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(RouteKeyError, match="defined twice"):
        table("GET /a", "GET /a")


def test_keys_differing_only_in_variable_names_are_refused() -> None:
    with pytest.raises(
        RouteKeyError, match=re.escape("matches the same requests as 'GET /u/{id}'")
    ):
        table("GET /u/{id}", "GET /u/{name}")
    # Different methods, or a different shape, are fine.
    table("GET /u/{id}", "POST /u/{name}", "GET /u/{name}/posts")


def test_unknown_payload_format_is_refused() -> None:
    with pytest.raises(RouteKeyError, match=re.escape("payload format '3.0'")):
        RouteTable([Route("GET /a", "fn", payload_format="3.0")])


def test_different_names_at_one_position_are_kept_per_route() -> None:
    t = table("GET /u/{id}", "GET /u/{name}/posts")
    assert t.match("GET", "/u/7") == Match(Route("GET /u/{id}", "GET /u/{id}"), {"id": "7"})
    found = t.match("GET", "/u/ann/posts")
    assert found is not None and found.path_parameters == {"name": "ann"}
