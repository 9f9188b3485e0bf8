"""Reading and checking one value of a gureum.yaml or a template.

Each reader takes ``where`` (the file and the field) and the value, and returns the value checked,
or raises ManifestError naming ``where``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml  # type: ignore[import-untyped]

from ...errors import GureumError
from ...validation import (
    validate_description,
    validate_env,
    validate_function_name,
    validate_handler,
    validate_memory,
    validate_timeout,
)
from .specs import LayerSpec, ManifestError

MAX_LAYERS = 5  # Lambda's limit per function
# Lambda's own patterns (botocore's model) for a layer version ARN and an alias name.
LAYER_VERSION_ARN = re.compile(
    r"arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+"
)
LAYER_NAME = re.compile(r"[a-zA-Z0-9-_]{1,140}")
ALIAS_NAME = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9-_]{1,128}")

T = TypeVar("T")


def read_yaml(path: Path, loader: type[yaml.SafeLoader]) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except yaml.YAMLError as exc:
        raise ManifestError(path.name, f"not valid YAML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(path.name, f"cannot be read: {exc}") from exc


def mapping(value: Any, where: str, what: str, *, optional: bool = False) -> dict[str, Any]:
    """``value`` if it is a mapping; None counts as an empty one where the key is optional."""
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise ManifestError(where, f"expected {what} to be a mapping, got {shown(value)}")
    return value


def shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, LayerSpec):
        return f"!Ref {value.logical_id} (a layer: only a function's Layers can use it)"
    return f"{type(value).__name__} {value!r}"


def checked(where: str, check: Callable[[T], T], value: T) -> T:
    """Run one of gureum.validation's checks, naming the manifest's field on failure."""
    try:
        return check(value)
    except GureumError as exc:
        raise ManifestError(where, exc.message) from exc


def string(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ManifestError(where, f"expected a non-empty string, got {shown(value)}")
    return value


def integer(where: str, value: Any) -> int:
    # bool is an int to Python, but `memory: yes` is a mistake, not 1 MB.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ManifestError(where, f"expected an integer, got {shown(value)}")
    return value


def boolean(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ManifestError(where, f"expected true or false, got {shown(value)}")
    return value


def function_name(where: str, value: Any) -> str:
    return checked(where, validate_function_name, string(where, value))


def handler(where: str, value: Any) -> str:
    return checked(where, validate_handler, string(where, value))


def memory(where: str, value: Any) -> int:
    return checked(where, validate_memory, integer(where, value))


def timeout(where: str, value: Any) -> int:
    return checked(where, validate_timeout, integer(where, value))


def description(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ManifestError(where, f"expected a string, got {shown(value)}")
    return checked(where, validate_description, value)


def scalar_text(where: str, value: Any) -> str:
    """An environment value as Lambda keeps it: a string (numbers and booleans spelled out)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ManifestError(where, f"expected a string or a number, got {shown(value)}")


def env(where: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ManifestError(where, f"expected a mapping of NAME: value, got {shown(value)}")
    variables = {str(k): scalar_text(f"{where}.{k}", v) for k, v in value.items()}
    return checked(where, validate_env, variables)


def string_list(where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(where, f"expected a list of strings, got {shown(value)}")
    return value


def layer_arns(where: str, value: Any) -> list[str]:
    """gureum.yaml's ``layers``: layer version ARNs, in the order they are unpacked at /opt."""
    arns = string_list(where, value)
    for i, arn in enumerate(arns):
        layer_arn(f"{where}[{i}]", arn)
    return within_layer_limit(where, arns)


def within_layer_limit(where: str, layers: list[T]) -> list[T]:
    if len(layers) > MAX_LAYERS:
        raise ManifestError(
            where, f"a function uses at most {MAX_LAYERS} layers, not {len(layers)}"
        )
    return layers


def layer_arn(where: str, value: Any) -> str:
    if not isinstance(value, str) or not LAYER_VERSION_ARN.fullmatch(value):
        raise ManifestError(
            where,
            "expected a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION), "
            f"got {shown(value)}",
        )
    return value


def layer_name(where: str, value: Any) -> str:
    if not isinstance(value, str) or not LAYER_NAME.fullmatch(value):
        raise ManifestError(
            where, f"expected a layer name (letters, digits, - and _), got {shown(value)}"
        )
    return value


def alias(where: str, value: Any) -> str:
    if not isinstance(value, str) or not ALIAS_NAME.fullmatch(value):
        raise ManifestError(
            where,
            "expected an alias name (letters, digits, - and _; not only digits), "
            f"got {shown(value)}",
        )
    return value


def snap_start(where: str, value: Any) -> str:
    """SnapStart's ApplyOn: ``PublishedVersions`` or ``None`` (Lambda's values)."""
    if value not in ("PublishedVersions", "None"):
        raise ManifestError(where, f"expected PublishedVersions or None, got {shown(value)}")
    return str(value)


def gureum_snap_start(where: str, value: Any) -> str:
    """gureum.yaml's ``snap_start``: Lambda's values, or ``All``: $LATEST's instances fork from
    a snapshot too (Lambda has no such setting; gureum's own, for development loops)."""
    if value == "All":
        return "All"
    if value not in ("PublishedVersions", "None"):
        raise ManifestError(where, f"expected PublishedVersions, All or None, got {shown(value)}")
    return str(value)
