"""Checks on a function's settings, with the limits and messages of Lambda's API.

Each ``validate_*`` returns its value unchanged (or normalised) so callers can build a
FunctionConfig inline, and raises InvalidParameterValueException worded as Lambda words it:
``1 validation error detected: Value 'x' at 'member' failed to satisfy constraint: ...``.
Limits come from botocore's Lambda model and from the service's documented quotas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping

from gureum.errors import InvalidParameterValueException

# Lambda's "Defined runtime environment variables" that a function may not set: the runtime
# fills them in. TZ, LANG, PATH, PYTHONPATH... are documented as unreserved and stay settable.
RESERVED_ENV_KEYS: frozenset[str] = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)

FUNCTION_NAME_MAX = 64  # the model allows 140 for a full ARN; a bare name is capped at 64
HANDLER_MAX = 128
DESCRIPTION_MAX = 256
MEMORY_MIN, MEMORY_MAX = 128, 10240
TIMEOUT_MIN, TIMEOUT_MAX = 1, 900
EPHEMERAL_MIN, EPHEMERAL_MAX = 512, 10240
ENV_MAX_BYTES = 4096

# Patterns as the messages show them (Lambda's spelling) and as compiled here; `-` is moved to
# the end of the class so Python cannot read it as a range.
FUNCTION_NAME_PATTERN = "[a-zA-Z0-9-_]+"
_FUNCTION_NAME_RE = re.compile(r"[a-zA-Z0-9_-]+")
HANDLER_PATTERN = r"[^\s]+"
# Stricter than Lambda, which only refuses whitespace and lets a bad handler fail at the first
# invoke: "module.function", the module dotted or slashed as the Python runtime splits it.
HANDLER_SHAPE_PATTERN = r"[^\s./]+([./][^\s./]+)*\.[^\s./]+"
ENV_KEY_PATTERN = "[a-zA-Z]([a-zA-Z0-9_])+"

_ENV_MEMBER = "environment.variables"


def _raise_if_any(failures: list[str]) -> None:
    """Raise one exception listing every failed constraint, counted and joined as Lambda does."""
    if not failures:
        return
    count = len(failures)
    noun = "error" if count == 1 else "errors"
    raise InvalidParameterValueException(
        f"{count} validation {noun} detected: " + "; ".join(failures)
    )


def _failure(member: str, value: object, constraint: str) -> str:
    return f"Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"


def _sensitive_failure(member: str, constraint: str) -> str:
    # Sensitive members (environment variables) are never echoed back, only named.
    return f"Value at '{member}' failed to satisfy constraint: {constraint}"


def _length(member: str, value: str, low: int, high: int) -> list[str]:
    if len(value) < low:
        return [_failure(member, value, f"Member must have length greater than or equal to {low}")]
    if len(value) > high:
        return [_failure(member, value, f"Member must have length less than or equal to {high}")]
    return []


def _range(member: str, value: int, low: int, high: int) -> None:
    if value < low:
        _raise_if_any(
            [_failure(member, value, f"Member must have value greater than or equal to {low}")]
        )
    if value > high:
        _raise_if_any(
            [_failure(member, value, f"Member must have value less than or equal to {high}")]
        )


def validate_function_name(name: str) -> str:
    """A bare function name: 1 to 64 letters, digits, hyphens and underscores."""
    failures = _length("functionName", name, 1, FUNCTION_NAME_MAX)
    if not _FUNCTION_NAME_RE.fullmatch(name):
        failures.append(
            _failure(
                "functionName",
                name,
                f"Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}",
            )
        )
    _raise_if_any(failures)
    return name


def validate_handler(handler: str) -> str:
    """``module.function``; the module may be dotted (``pkg.mod``) or a path (``pkg/mod``)."""
    failures = _length("handler", handler, 0, HANDLER_MAX)
    if not re.fullmatch(HANDLER_PATTERN, handler):
        failures.append(
            _failure(
                "handler",
                handler,
                f"Member must satisfy regular expression pattern: {HANDLER_PATTERN}",
            )
        )
    elif not re.fullmatch(HANDLER_SHAPE_PATTERN, handler):
        failures.append(
            _failure(
                "handler",
                handler,
                f"Member must satisfy regular expression pattern: {HANDLER_SHAPE_PATTERN}",
            )
        )
    _raise_if_any(failures)
    return handler


def validate_memory(mb: int) -> int:
    _range("memorySize", mb, MEMORY_MIN, MEMORY_MAX)
    return mb


def validate_timeout(s: int) -> int:
    _range("timeout", s, TIMEOUT_MIN, TIMEOUT_MAX)
    return s


def validate_ephemeral_storage(mb: int) -> int:
    _range("ephemeralStorage.size", mb, EPHEMERAL_MIN, EPHEMERAL_MAX)
    return mb


def validate_description(text: str) -> str:
    _raise_if_any(_length("description", text, 0, DESCRIPTION_MAX))
    return text


def validate_env(env: Mapping[str, str]) -> dict[str, str]:
    """Key names, reserved keys, then the 4 KB limit on the serialised map; returns a copy."""
    if any(not re.fullmatch(ENV_KEY_PATTERN, key) for key in env):
        _raise_if_any(
            [
                _sensitive_failure(
                    _ENV_MEMBER,
                    "Map keys must satisfy constraint: "
                    f"[Member must satisfy regular expression pattern: {ENV_KEY_PATTERN}]",
                )
            ]
        )
    # In the request's order, as Lambda lists them.
    reserved = [key for key in env if key in RESERVED_ENV_KEYS]
    if reserved:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not supported "
            f"for modification. Reserved keys used in this request: {', '.join(reserved)}"
        )
    # Lambda measures the map as compact JSON, so quotes, commas and escapes count too;
    # surrogatepass so a lone surrogate is counted rather than crashing the check.
    measured = json.dumps(dict(env), separators=(",", ":"), ensure_ascii=False)
    if len(measured.encode("utf-8", "surrogatepass")) > ENV_MAX_BYTES:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            f"variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )
    return dict(env)


def validate_runtime(runtime: str, available: Collection[str]) -> str:
    if runtime not in available:
        choices = ", ".join(sorted(available))
        _raise_if_any(
            [_failure("runtime", runtime, f"Member must satisfy enum value set: [{choices}]")]
        )
    return runtime


def validate_reserved_concurrency(n: int | None, node_limit: int) -> int | None:
    """None means "no reservation"; 0 is a real value that stops every invocation."""
    if n is not None:
        _range("reservedConcurrentExecutions", n, 0, node_limit)
    return n


SNAP_START_MODES = ("None", "PublishedVersions", "All")


def validate_snap_start(mode: str) -> str:
    """Lambda's SnapStart ApplyOn ("None", "PublishedVersions"), or gureum's "All" ($LATEST too)."""
    if mode not in SNAP_START_MODES:
        raise InvalidParameterValueException(
            f"SnapStart ApplyOn must be one of {', '.join(SNAP_START_MODES)}, not {mode!r}"
        )
    return mode
