"""HTTP API routes: "METHOD /path" keys, and the route API Gateway would pick for a request.

Precedence, as API Gateway's "Routing API requests" gives it: a route that matches the whole path
without a greedy variable beats any route matched through ``{proxy+}``, which beats ``$default``.
Among candidates of one kind, segments compare left to right (a literal beats ``{param}`` beats
``{proxy+}``), and for one path an exact method beats ``ANY``. A path whose routes do not accept
the method is passed over, so a less specific path (or ``$default``) can still answer.

Trailing slashes are significant: HTTP APIs refuse route paths ending in '/', and a request for
``/todos/`` is not routed to ``POST /todos`` (AWS answers 404; powertools' end-to-end tests check
this against a real HTTP API). ``{proxy+}`` needs a non-empty rest, so ``/`` is not matched by
``ANY /{proxy+}`` and ``/api/`` is not matched by ``ANY /api/{proxy+}``: like on AWS, add a
route for the bare prefix if it should answer.

The table is a trie built once; ``match`` walks it with no allocation beyond the result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})
DEFAULT = "$default"
PAYLOAD_FORMATS = frozenset({"1.0", "2.0"})

_PARAM_NAME = re.compile(r"[A-Za-z0-9._-]+")
# RFC 3986 path characters, without '%': a literal is written decoded, as requests are matched.
_LITERAL = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@-]+")


class RouteKeyError(ValueError):
    """A route key or table that API Gateway would refuse; the message is meant for the user."""


@dataclass(frozen=True, slots=True)
class Route:
    key: str  # "GET /users/{id}", "ANY /{proxy+}", "$default"
    target: str  # opaque here: a function name[:qualifier]
    payload_format: str = "2.0"  # "2.0" (HTTP API) or "1.0" (REST API proxy)


@dataclass(frozen=True, slots=True)
class Match:
    route: Route
    path_parameters: dict[str, str]  # values percent-decoded once


def parse_route_key(key: str) -> tuple[str, str]:
    """``(METHOD or "ANY", path)``, or ``("$default", "")``; RouteKeyError says what is wrong."""
    _parse(key)
    if key == DEFAULT:
        return DEFAULT, ""
    method, _, path = key.partition(" ")
    return method, path


# One segment of a parsed path: ("lit", text), ("param", name) or ("greedy", name).
_Segment = tuple[str, str]


def _parse(key: str) -> list[_Segment]:
    if key == DEFAULT:
        return []
    method, space, path = key.partition(" ")
    if not space:
        raise RouteKeyError(f"route key {key!r}: expected 'METHOD /path' or '$default'")
    if method not in METHODS:
        allowed = ", ".join(sorted(METHODS))
        raise RouteKeyError(f"route key {key!r}: method {method!r} is not one of {allowed}")
    if not path.startswith("/"):
        raise RouteKeyError(f"route key {key!r}: the path must start with '/'")
    if path == "/":
        return []
    if path.endswith("/"):
        raise RouteKeyError(f"route key {key!r}: the path must not end with '/'")
    segments: list[_Segment] = []
    names: set[str] = set()
    parts = path[1:].split("/")
    for index, part in enumerate(parts):
        if not part:
            raise RouteKeyError(f"route key {key!r}: empty path segment ('//')")
        if not (part.startswith("{") or part.endswith("}")):
            if not _LITERAL.fullmatch(part):
                raise RouteKeyError(f"route key {key!r}: segment {part!r} has invalid characters")
            segments.append(("lit", part))
            continue
        if not (part.startswith("{") and part.endswith("}")):
            raise RouteKeyError(
                f"route key {key!r}: segment {part!r}: a variable must be a whole segment, "
                "like {id}"
            )
        name = part[1:-1]
        greedy = name.endswith("+")
        if greedy:
            name = name[:-1]
            if index != len(parts) - 1:
                raise RouteKeyError(
                    f"route key {key!r}: greedy variable {part} must be the last segment"
                )
        if not _PARAM_NAME.fullmatch(name):
            raise RouteKeyError(
                f"route key {key!r}: variable name {name!r} must be letters, digits, '.', '_' "
                "or '-'"
            )
        if name in names:
            raise RouteKeyError(f"route key {key!r}: variable {name!r} appears twice")
        names.add(name)
        segments.append(("greedy" if greedy else "param", name))
    return segments


@dataclass(frozen=True, slots=True)
class _Leaf:
    route: Route
    names: tuple[str, ...]  # the {param} names, in path order
    greedy: str  # the {name+} name, "" for a route without one


class _Node:
    __slots__ = ("exact", "greedy", "literals", "param")

    def __init__(self) -> None:
        self.literals: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.exact: dict[str, _Leaf] = {}  # method -> route whose path ends here
        self.greedy: dict[str, _Leaf] = {}  # method -> route "<this prefix>/{name+}"


def _pick(leaves: dict[str, _Leaf], method: str) -> _Leaf | None:
    return leaves.get(method) or leaves.get("ANY")


class RouteTable:
    """The routes of one API. Construction validates (RouteKeyError); ``match`` is the hot path."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes: tuple[Route, ...] = tuple(routes)
        self._root = _Node()
        self._default: Route | None = None
        seen: dict[str, Route] = {}
        shapes: dict[tuple[str, tuple[str, ...]], str] = {}
        for route in self.routes:
            if route.payload_format not in PAYLOAD_FORMATS:
                raise RouteKeyError(
                    f"route {route.key!r}: payload format {route.payload_format!r} is not "
                    "'1.0' or '2.0'"
                )
            if route.key in seen:
                raise RouteKeyError(f"route key {route.key!r} is defined twice")
            seen[route.key] = route
            segments = _parse(route.key)
            if route.key == DEFAULT:
                self._default = route
                continue
            method = route.key.partition(" ")[0]
            # Two keys that differ only in variable names would match exactly the same requests.
            shape = (method, tuple(text if kind == "lit" else kind for kind, text in segments))
            if shape in shapes:
                raise RouteKeyError(
                    f"route key {route.key!r} matches the same requests as {shapes[shape]!r}"
                )
            shapes[shape] = route.key
            self._insert(route, method, segments)

    def _insert(self, route: Route, method: str, segments: list[_Segment]) -> None:
        node = self._root
        names: list[str] = []
        for kind, text in segments:
            if kind == "lit":
                node = node.literals.setdefault(text, _Node())
            elif kind == "param":
                names.append(text)
                if node.param is None:
                    node.param = _Node()
                node = node.param
            else:
                node.greedy[method] = _Leaf(route, tuple(names), text)
                return
        node.exact[method] = _Leaf(route, tuple(names), "")

    def match(self, method: str, path: str) -> Match | None:
        """The route for ``method`` on ``path`` (raw, percent-encoded, without the query)."""
        if path.startswith("/"):
            body = path[1:]
            # Split before decoding, so an encoded '/' (%2F) stays inside its segment.
            segments = [unquote(s) if "%" in s else s for s in body.split("/")] if body else []
            fallback: list[tuple[_Leaf, list[str], str]] = []
            found = self._search(self._root, segments, 0, method, [], fallback)
            if found is not None:
                return found
            if fallback:
                leaf, values, rest = fallback[0]
                return _match(leaf, values, rest)
        if self._default is not None:
            return Match(self._default, {})
        return None

    def _search(
        self,
        node: _Node,
        segments: list[str],
        index: int,
        method: str,
        values: list[str],
        fallback: list[tuple[_Leaf, list[str], str]],
    ) -> Match | None:
        # Depth first, literal before {param}: the first full match found is the most specific.
        # Greedy candidates are noted after a node's children were tried, so the first one noted
        # is the most specific greedy route; it only answers when no full match exists.
        if index == len(segments):
            leaf = _pick(node.exact, method) if node.exact else None
            return _match(leaf, values, "") if leaf is not None else None
        segment = segments[index]
        child = node.literals.get(segment)
        if child is not None:
            found = self._search(child, segments, index + 1, method, values, fallback)
            if found is not None:
                return found
        if node.param is not None and segment:
            values.append(segment)
            found = self._search(node.param, segments, index + 1, method, values, fallback)
            values.pop()
            if found is not None:
                return found
        if node.greedy and not fallback:
            leaf = _pick(node.greedy, method)
            rest = "/".join(segments[index:])
            if leaf is not None and rest:
                fallback.append((leaf, list(values), rest))
        return None


def _match(leaf: _Leaf, values: list[str], rest: str) -> Match:
    parameters = dict(zip(leaf.names, values, strict=True))
    if leaf.greedy:
        parameters[leaf.greedy] = rest
    return Match(leaf.route, parameters)
