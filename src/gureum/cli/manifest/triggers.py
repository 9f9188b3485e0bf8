"""What makes a deployed function run besides a direct invoke, read from either kind of file:
schedules, HTTP routes, a function URL, and what happens to its asynchronous invocations.

SAM writes them as a function's ``Events`` (Schedule, ScheduleV2, Api, HttpApi),
``FunctionUrlConfig`` and ``EventInvokeConfig``; gureum.yaml as ``schedules``, ``routes``,
``url`` and ``async``, shorter. Expressions, time zones and route keys are checked here, so a
mistake is reported with its file and field before anything is deployed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...events import expressions
from ...gateway.routes import RouteKeyError, parse_route_key
from . import resources, values
from .specs import (
    EventInvokeSpec,
    FunctionRef,
    ManifestError,
    RouteSpec,
    S3EventSpec,
    ScheduleSpec,
    SqsEventSpec,
    UrlSpec,
)

AUTH_TYPES = ("NONE", "AWS_IAM")
PAYLOAD_FORMATS = ("1.0", "2.0")
CATCH_UP = ("once", "skip")
# SAM's Cors keys of a FunctionUrlConfig are the Lambda API's.
CORS_KEYS = (
    "AllowCredentials",
    "AllowHeaders",
    "AllowMethods",
    "AllowOrigins",
    "ExposeHeaders",
    "MaxAge",
)
SAM_EVENT_TYPES = ("Schedule", "ScheduleV2", "Api", "HttpApi", "S3", "SQS")


@dataclass(slots=True)
class SamEvents:
    """A function's Events, by kind, and notes on what is not acted on."""

    schedules: list[ScheduleSpec] = field(default_factory=list)
    routes: list[RouteSpec] = field(default_factory=list)
    s3: list[S3EventSpec] = field(default_factory=list)
    sqs: list[SqsEventSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# -- shared checks ----------------------------------------------------------------------------


def expression(where: str, value: Any) -> str:
    text = values.string(where, value)
    try:
        expressions.parse(text)
    except expressions.ScheduleExpressionError as error:
        raise ManifestError(where, str(error)) from error
    return text


def timezone(where: str, value: Any) -> str:
    text = values.string(where, value)
    try:
        expressions.zone(text)
    except expressions.ScheduleExpressionError as error:
        raise ManifestError(where, str(error)) from error
    return text


def route_key(where: str, value: Any) -> str:
    text = values.string(where, value)
    try:
        parse_route_key(text)
    except RouteKeyError as error:
        raise ManifestError(where, str(error)) from error
    return text


def schedule_name(where: str, value: Any) -> str:
    text = values.string(where, value)
    if len(text) > 64 or not all(c.isalnum() or c in "-_." for c in text):
        raise ManifestError(where, "a schedule name is 1-64 letters, digits, '-', '_' or '.'")
    return text


def one_of(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(where: str, value: Any) -> str:
        if value not in choices:
            raise ManifestError(where, f"expected one of {', '.join(choices)}, got {value!r}")
        return str(value)

    return check


def event_input(where: str, value: Any) -> str:
    """The event a schedule sends: a string as it is (SAM's Input), anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def within(low: int, high: int) -> Callable[[str, Any], int]:
    def check(where: str, value: Any) -> int:
        number = values.integer(where, value)
        if not low <= number <= high:
            raise ManifestError(where, f"expected {low} to {high}, got {number}")
        return number

    return check


def destination(where: str, value: Any) -> str | FunctionRef:
    """An ARN, ``!GetAtt Function.Arn``, or (gureum.yaml) a function's bare name."""
    if isinstance(value, FunctionRef):
        return value
    text = values.string(where, value)
    return text if text.startswith("arn:") else FunctionRef(values.function_name(where, text))


class Fields:
    """One mapping of a manifest, read key by key with its place named in every error, and
    the keys nobody read reported."""

    def __init__(self, where: str, value: Any, what: str) -> None:
        self.where = where
        self.values = values.mapping(value, where, what, optional=True)
        self.read: set[str] = set()

    def get(self, key: str, kind: Callable[[str, Any], Any], default: Any = None) -> Any:
        self.read.add(key)
        if self.values.get(key) is None:
            return default
        return kind(f"{self.where}.{key}", self.values[key])

    def unread(self, *silent: str) -> list[str]:
        return [k for k in self.values if k not in self.read and k not in silent]


# -- SAM ---------------------------------------------------------------------------------------


def sam_events(
    where: str, value: Any, function_id: str, buckets: dict[str, str] | None = None
) -> SamEvents:
    """A SAM function's ``Events``; ``buckets``: the template's (logical id -> name)."""
    events = values.mapping(value, where, "Events")
    found = SamEvents()
    notes = found.notes
    for event_id, event in events.items():
        at = f"{where}.{event_id}"
        event = values.mapping(event, at, "an event")
        kind = event.get("Type")
        properties = Fields(f"{at}.Properties", event.get("Properties"), "Properties")
        if kind in ("Schedule", "ScheduleV2"):
            found.schedules.append(_sam_schedule(properties, kind, f"{function_id}-{event_id}"))
        elif kind in ("Api", "HttpApi"):
            found.routes.append(_sam_route(properties, kind))
        elif kind == "S3":
            found.s3.append(resources.s3_event(properties.where, properties, buckets or {}))
        elif kind == "SQS":
            found.sqs.append(resources.sqs_event(properties.where, properties))
        else:
            notes.append(
                f"Events.{event_id}: Type {kind} is not supported yet (only "
                f"{', '.join(SAM_EVENT_TYPES)}); it is ignored"
            )
            continue
        ignored = properties.unread()
        if ignored:
            notes.append(f"Events.{event_id}: ignoring {', '.join(ignored)} (not used by gureum)")
    return found


def _sam_schedule(p: Fields, kind: str, default_name: str) -> ScheduleSpec:
    if kind == "Schedule":
        expression_ = p.get("Schedule", expression)
        enabled = p.get("Enabled", values.boolean, True)
        state = p.get("State", one_of(("ENABLED", "DISABLED")))
        zone = "UTC"
    else:
        expression_ = p.get("ScheduleExpression", expression)
        state = p.get("State", one_of(("ENABLED", "DISABLED")))
        enabled = True
        zone = p.get("ScheduleExpressionTimezone", timezone, "UTC")
    if expression_ is None:
        key = "Schedule" if kind == "Schedule" else "ScheduleExpression"
        raise ManifestError(f"{p.where}.{key}", "required")
    return ScheduleSpec(
        name=p.get("Name", schedule_name, default_name[:64]),
        expression=expression_,
        timezone=zone,
        input=p.get("Input", event_input),
        enabled=enabled and state != "DISABLED",
        description=p.get("Description", values.description, ""),
    )


def _sam_route(p: Fields, kind: str) -> RouteSpec:
    path = p.get("Path", values.string)
    method = p.get("Method", values.string)
    p.read.update(("RestApiId", "ApiId"))  # gureum has one HTTP listener: no API to pick
    if kind == "HttpApi" and path is None and method is None:
        key = "$default"  # SAM: an HttpApi event without Path and Method is the default route
    elif path is None or method is None:
        raise ManifestError(p.where, "Path and Method are required")
    else:
        method = method.upper()
        key = f"{'ANY' if method == 'ANY' else method} {path}"
    default_format = "2.0" if kind == "HttpApi" else "1.0"
    payload = default_format
    if kind == "HttpApi":
        payload = p.get("PayloadFormatVersion", one_of(PAYLOAD_FORMATS), default_format)
    return RouteSpec(route_key(p.where, key), payload)


def sam_url(where: str, value: Any) -> UrlSpec:
    """``FunctionUrlConfig: {AuthType, Cors, InvokeMode}``."""
    p = Fields(where, value, "FunctionUrlConfig")
    auth = p.get("AuthType", one_of(AUTH_TYPES))
    if auth is None:
        raise ManifestError(f"{where}.AuthType", "required (NONE or AWS_IAM)")
    p.get("InvokeMode", one_of(("BUFFERED",)))
    cors = p.get("Cors", _cors)
    _refuse_unread(p)
    return UrlSpec(auth, cors)


def _cors(where: str, value: Any) -> dict[str, Any]:
    cors = values.mapping(value, where, "Cors")
    unknown = [k for k in cors if k not in CORS_KEYS]
    if unknown:
        raise ManifestError(f"{where}.{unknown[0]}", f"unknown (known: {', '.join(CORS_KEYS)})")
    return cors


def sam_event_invoke(where: str, value: Any) -> EventInvokeSpec:
    """``EventInvokeConfig: {MaximumRetryAttempts, MaximumEventAgeInSeconds,
    DestinationConfig: {OnSuccess: {Type, Destination}, OnFailure: ...}}``."""
    p = Fields(where, value, "EventInvokeConfig")
    retries = p.get("MaximumRetryAttempts", within(0, 2))
    max_age = p.get("MaximumEventAgeInSeconds", within(60, 21600))
    targets = Fields(
        f"{where}.DestinationConfig", p.get("DestinationConfig", _any), "DestinationConfig"
    )
    on_success = targets.get("OnSuccess", _sam_destination)
    on_failure = targets.get("OnFailure", _sam_destination)
    _refuse_unread(targets)
    _refuse_unread(p)
    return EventInvokeSpec(retries, max_age, on_success, on_failure)


def _sam_destination(where: str, value: Any) -> str | FunctionRef:
    p = Fields(where, value, "a destination")
    kind = p.get("Type", one_of(("Lambda", "SQS", "SNS", "EventBridge", "S3Bucket")))
    if kind not in (None, "Lambda"):
        raise ManifestError(f"{where}.Type", f"{kind} destinations are not supported yet")
    target = p.get("Destination", destination)
    if target is None:
        raise ManifestError(f"{where}.Destination", "required")
    _refuse_unread(p)
    return target  # type: ignore[no-any-return]


# -- gureum.yaml's short forms -----------------------------------------------------------------


def short_schedules(where: str, value: Any) -> list[ScheduleSpec]:
    """``schedules: [rate(5 minutes), {expression, name, timezone, input, catch_up, enabled,
    description}]``; unnamed ones are named after their place in the list."""
    items = value if isinstance(value, list) else None
    if items is None:
        raise ManifestError(where, f"expected a list of schedules, got {values.shown(value)}")
    schedules: list[ScheduleSpec] = []
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if isinstance(item, str):
            schedules.append(ScheduleSpec(f"schedule-{i + 1}", expression(at, item)))
            continue
        p = Fields(at, item, "a schedule (an expression or a mapping)")
        expression_ = p.get("expression", expression)
        if expression_ is None:
            raise ManifestError(f"{at}.expression", "required")
        schedules.append(
            ScheduleSpec(
                name=p.get("name", schedule_name, f"schedule-{i + 1}"),
                expression=expression_,
                timezone=p.get("timezone", timezone, "UTC"),
                input=p.get("input", event_input),
                enabled=p.get("enabled", values.boolean, True),
                description=p.get("description", values.description, ""),
                catch_up=p.get("catch_up", one_of(CATCH_UP), "once"),
            )
        )
        _refuse_unread(p)
    _unique(where, [s.name for s in schedules], "schedule name")
    return schedules


def short_routes(where: str, value: Any) -> list[RouteSpec]:
    """``routes: ["GET /users/{id}", {route, payload}]``."""
    if not isinstance(value, list):
        raise ManifestError(where, f"expected a list of routes, got {values.shown(value)}")
    routes: list[RouteSpec] = []
    for i, item in enumerate(value):
        at = f"{where}[{i}]"
        if isinstance(item, str):
            routes.append(RouteSpec(route_key(at, item)))
            continue
        p = Fields(at, item, "a route (a key or a mapping)")
        key = p.get("route", route_key)
        if key is None:
            raise ManifestError(f"{at}.route", "required")
        routes.append(RouteSpec(key, p.get("payload", _payload_format, "2.0")))
        _refuse_unread(p)
    _unique(where, [r.route for r in routes], "route")
    return routes


def _payload_format(where: str, value: Any) -> str:
    return one_of(PAYLOAD_FORMATS)(where, str(value) if isinstance(value, float) else value)


def short_url(where: str, value: Any) -> UrlSpec | None:
    """``url: true`` (AuthType NONE), or ``url: {auth: AWS_IAM, cors: {AllowOrigins: [...]}}``."""
    if isinstance(value, bool):
        return UrlSpec() if value else None
    p = Fields(where, value, "true, false or a mapping")
    url = UrlSpec(p.get("auth", one_of(AUTH_TYPES), "NONE"), p.get("cors", _cors))
    _refuse_unread(p)
    return url


def short_async(where: str, value: Any) -> EventInvokeSpec:
    """``async: {retries, max_age, on_success, on_failure}``: destinations are function names or
    ARNs."""
    p = Fields(where, value, "a mapping")
    spec = EventInvokeSpec(
        retries=p.get("retries", within(0, 2)),
        max_age_s=p.get("max_age", within(60, 21600)),
        on_success=p.get("on_success", destination),
        on_failure=p.get("on_failure", destination),
    )
    _refuse_unread(p)
    return spec


def _any(where: str, value: Any) -> Any:
    return value


def _refuse_unread(p: Fields) -> None:
    unread = p.unread()
    if unread:
        known = ", ".join(sorted(p.read))
        raise ManifestError(f"{p.where}.{unread[0]}", f"unknown key (known: {known})")


def _unique(where: str, names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ManifestError(where, f"the {what} {name!r} is there twice")
        seen.add(name)
