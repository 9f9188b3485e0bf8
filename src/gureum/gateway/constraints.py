"""The constraints botocore's model puts on input members: required, min/max, pattern, enum.

Checked for an operation's top-level members, so a bad name, qualifier, page size or header
value is refused with a 400 naming the member and the rule, as AWS services answer.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from botocore.model import Shape, StructureShape

from ..errors import InvalidParameterValueException


@cache
def _pattern(expression: str) -> re.Pattern[str] | None:
    try:
        return re.compile(expression)
    except re.error:
        return None  # a Java-only construct: the member is checked by the operation instead


def _wire_name(name: str) -> str:
    # AWS's messages name members in camelCase: functionName, maxItems.
    return name[:1].lower() + name[1:]


def _failures(name: str, shape: Shape, value: Any) -> list[str]:
    failures = []
    metadata = shape.metadata
    shown = value if not isinstance(value, bytes | bytearray) else "<bytes>"
    prefix = f"Value '{shown}' at '{_wire_name(name)}' failed to satisfy constraint: "
    if isinstance(value, str) and shape.type_name == "string":
        if "min" in metadata and len(value) < metadata["min"]:
            failures.append(
                prefix + f"Member must have length greater than or equal to {metadata['min']}"
            )
        if "max" in metadata and len(value) > metadata["max"]:
            failures.append(
                prefix + f"Member must have length less than or equal to {metadata['max']}"
            )
        pattern = _pattern(metadata["pattern"]) if "pattern" in metadata else None
        if pattern is not None and not pattern.fullmatch(value):
            failures.append(
                prefix + f"Member must satisfy regular expression pattern: {metadata['pattern']}"
            )
        if shape.enum and value not in shape.enum:
            failures.append(
                prefix + f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"
            )
    elif isinstance(value, int) and not isinstance(value, bool):
        if "min" in metadata and value < metadata["min"]:
            failures.append(
                prefix + f"Member must have value greater than or equal to {metadata['min']}"
            )
        if "max" in metadata and value > metadata["max"]:
            failures.append(
                prefix + f"Member must have value less than or equal to {metadata['max']}"
            )
    return failures


def check(shape: StructureShape, params: dict[str, Any]) -> None:
    """Raise InvalidParameterValueException for every violated constraint, AWS-style."""
    failures = []
    for name in shape.required_members:
        if params.get(name) is None:
            failures.append(
                f"Value null at '{_wire_name(name)}' failed to satisfy constraint: "
                "Member must not be null"
            )
    for name, value in params.items():
        member = shape.members.get(name)
        if member is not None and value is not None:
            failures += _failures(name, member, value)
    if failures:
        count = len(failures)
        errors = "error" if count == 1 else "errors"
        raise InvalidParameterValueException(
            f"{count} validation {errors} detected: {'; '.join(failures)}"
        )
