"""The rest-json wire protocol, driven by botocore's service model of the API being served.

botocore's model says, for each operation, its method and URI template, where each input member
travels (path, query string, header, or JSON body), and how the output and errors are laid out.
This module reads a request into an operation and its parameters, and writes results and errors
back, so that each API operation is a plain function of parameters to a result.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

from ..errors import GureumError
from .constraints import Rules

Headers = list[tuple[str, str]]


class InvalidRequestContentException(GureumError):
    error_type = "InvalidRequestContentException"
    status = 400


class UnknownOperationException(GureumError):
    error_type = "UnknownOperationException"
    status = 404


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    operation: OperationModel
    # A query the URI template itself carries ("?find=LayerVersion"): only requests with it match.
    required_query: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Member:
    """Where one input member travels, read from the model once per operation."""

    name: str
    wire_name: str
    location: str  # "uri", "querystring", "header", "payload" or "body"
    shape: Shape


@dataclass(frozen=True, slots=True)
class InputPlan:
    rules: Rules
    members: tuple[Member, ...]
    # Where a JSON document body goes: no body members means the body is never parsed.
    reads_document: bool


def _input_plan(operation: OperationModel) -> InputPlan | None:
    shape = operation.input_shape
    if shape is None:
        return None
    payload_name = shape.serialization.get("payload")
    members = []
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        if location not in ("uri", "querystring", "header"):
            location = "payload" if name == payload_name else "body"
        wire_name = member.serialization.get("name", name)
        if location == "header":
            wire_name = wire_name.lower()
        members.append(Member(name, wire_name, location, member))
    return InputPlan(Rules(shape), tuple(members), any(m.location == "body" for m in members))


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Headers
    body: bytes


def _compile(uri: str) -> re.Pattern[str]:
    path = uri.split("?", 1)[0]
    regex = ""
    for literal, name, greedy in re.findall(r"([^{]*)(?:\{(\w+)(\+?)\})?", path):
        regex += re.escape(literal)
        if name:
            regex += f"(?P<{name}>.+)" if greedy else f"(?P<{name}>[^/]+)"
    return re.compile(regex + "$")


class RestJsonService:
    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        routes = []
        for name in model.operation_names:
            operation = model.operation_model(name)
            uri = operation.http["requestUri"]
            required = tuple(parse_qsl(uri.partition("?")[2], keep_blank_values=True))
            routes.append(Route(operation.http["method"], _compile(uri), operation, required))
        # Literal paths before templated ones: "/functions/{Name}/code" before "/functions/{Name}";
        # and a path that needs a query before the same path without.
        routes.sort(
            key=lambda r: (
                -len(re.sub(r"\(\?P<\w+>[^)]*\)", "", r.pattern.pattern)),
                -len(r.required_query),
            )
        )
        self.routes = routes
        # Candidates by method and first two path segments ("/2015-03-31/functions/..."), in
        # the order above: a handful of regexes per request instead of every route's.
        # A template in those segments ("/{Bucket}/...") puts a route among every request's.
        self.by_prefix: dict[tuple[str, str], list[Route]] = {}
        self.anywhere: dict[str, list[Route]] = {}
        for route in routes:
            prefix = _prefix(route.operation.http["requestUri"].split("?", 1)[0])
            if "{" in prefix:
                self.anywhere.setdefault(route.method, []).append(route)
            else:
                self.by_prefix.setdefault((route.method, prefix), []).append(route)
        self.plans = {
            name: _input_plan(model.operation_model(name)) for name in model.operation_names
        }

    def match(
        self, method: str, path: str, query: Mapping[str, list[str]] | None = None
    ) -> tuple[OperationModel, dict[str, str]]:
        query = query or {}
        candidates = self.by_prefix.get((method, _prefix(path)), [])
        for route in candidates + self.anywhere.get(method, []):
            if any(v not in query.get(k, []) for k, v in route.required_query):
                continue
            found = route.pattern.match(path)
            if found:
                return route.operation, found.groupdict()
        raise UnknownOperationException(f"No operation for {method} {path}")

    def parse(
        self,
        operation: OperationModel,
        path_params: Mapping[str, str],
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> dict[str, Any]:
        """The operation's input parameters, typed as the model says."""
        plan = self.plans[operation.name]
        if plan is None:
            return {}
        params: dict[str, Any] = {}
        document = _load_json(body) if plan.reads_document and body else {}
        for member in plan.members:
            location, wire_name, shape = member.location, member.wire_name, member.shape
            if location == "uri":
                if wire_name in path_params:
                    params[member.name] = _from_string(shape, unquote(path_params[wire_name]))
            elif location == "querystring":
                if wire_name in query:
                    values = query[wire_name]
                    params[member.name] = (
                        values if shape.type_name == "list" else _from_string(shape, values[-1])
                    )
            elif location == "header":
                value = headers.get(wire_name)
                if value is not None:
                    params[member.name] = _from_string(shape, value)
            elif location == "payload":
                if shape.type_name == "blob":
                    params[member.name] = body  # opaque: the invoke payload is never decoded here
                elif body:
                    params[member.name] = _from_json(shape, _load_json(body), member.name)
            elif document.get(wire_name) is not None:
                params[member.name] = _from_json(shape, document[wire_name], member.name)
        plan.rules.check(params)
        return params

    def serialize(self, operation: OperationModel, result: Mapping[str, Any]) -> Response:
        status = int(operation.http.get("responseCode", 200))
        headers: Headers = []
        shape = operation.output_shape
        if shape is None:
            return Response(status, headers, b"")
        payload_name = shape.serialization.get("payload")
        document: dict[str, Any] = {}
        body: bytes | None = None
        for name, member in shape.members.items():
            value = result.get(name)
            if value is None:
                continue
            location = member.serialization.get("location")
            if location == "statusCode":
                status = int(value)
            elif location == "header":
                headers.append((member.serialization.get("name", name), str(value)))
            elif name == payload_name:
                body = (
                    value
                    if member.type_name == "blob"
                    else json.dumps(_to_json(member, value)).encode()
                )
            else:
                document[member.serialization.get("name", name)] = _to_json(member, value)
        if body is None:
            body = json.dumps(document).encode()
            headers.append(("Content-Type", "application/json"))
        request_id = result.get(REQUEST_ID)
        if request_id is not None:
            headers.append(("x-amzn-RequestId", request_id))
        return Response(status, headers, body)

    def serialize_error(self, error: GureumError) -> Response:
        headers: Headers = [
            ("x-amzn-ErrorType", error.error_type),
            ("Content-Type", "application/json"),
        ]
        retry_after = getattr(error, "retry_after_s", None)
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        return Response(error.status, headers, json.dumps(error.to_dict()).encode())


# An operation's result may carry the request id its response header reports under this key.
REQUEST_ID = "__request_id"


def _prefix(path: str) -> str:
    """The first two segments of a path: "/2015-03-31/functions/x" -> "2015-03-31/functions"."""
    return "/".join(path.split("/", 3)[1:3])


def _load_json(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: {exc}"
        ) from None
    if not isinstance(document, dict):
        raise InvalidRequestContentException(
            "Could not parse request body into json: not an object"
        )
    return document


def _from_string(shape: Shape, value: str) -> Any:
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(value)
        if kind in ("float", "double"):
            return float(value)
    except ValueError:
        raise InvalidRequestContentException(f"{shape.name}: {value!r} is not a number") from None
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise InvalidRequestContentException(f"{shape.name}: {value!r} is not a boolean")
        return value.lower() == "true"
    return value


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "boolean": (bool,),
    "list": (list,),
    "map": (dict,),
    "structure": (dict,),
    "blob": (str,),
    "timestamp": (int, float, str),
}


def _is_instance(value: Any, types: tuple[type, ...]) -> bool:
    # A helper keeps mypy from narrowing ``value`` to ``object`` in the caller.
    return isinstance(value, types)


def _from_json(shape: Shape, value: Any, path: str) -> Any:
    """Check a JSON value against its shape (recursively) and decode blobs."""
    kind = shape.type_name
    expected = _JSON_TYPES.get(kind, (object,))
    # JSON's true/false are ints to Python: only a boolean member may hold one.
    wrong_bool = isinstance(value, bool) and kind != "boolean"
    if wrong_bool or not _is_instance(value, expected):
        raise InvalidRequestContentException(
            f"Could not parse request body: {path} must be of type {kind}"
        )
    if kind == "blob":
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestContentException(f"{path} is not valid base64") from None
    if kind == "list":
        return [_from_json(shape.member, item, f"{path}[]") for item in value]
    if kind == "map":
        return {
            _from_json(shape.key, k, path): _from_json(shape.value, v, f"{path}.{k}")
            for k, v in value.items()
        }
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        out = {}
        for name, member in shape.members.items():
            wire_name = member.serialization.get("name", name)
            if value.get(wire_name) is not None:
                out[name] = _from_json(member, value[wire_name], f"{path}.{name}")
        return out
    return value


def _to_json(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "blob":
        return base64.b64encode(value).decode()
    if kind == "list":
        return [_to_json(shape.member, item) for item in value]
    if kind == "map":
        return {k: _to_json(shape.value, v) for k, v in value.items()}
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        return {
            member.serialization.get("name", name): _to_json(member, value[name])
            for name, member in shape.members.items()
            if value.get(name) is not None
        }
    return value
