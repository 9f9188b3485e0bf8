"""The constraints botocore's model puts on input members: required, min/max, pattern, enum.

Checked for an operation's top-level members, so a bad name, qualifier, page size or header
value is refused with a 400 naming the member and the rule, as AWS services answer. Each
operation's rules are read from the model once (``Rules``): checking a valid request is a few
comparisons per member.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class MemberRules:
    name: str
    is_string: bool
    minimum: int | None
    maximum: int | None
    pattern: re.Pattern[str] | None
    pattern_text: str
    enum: frozenset[str]
    enum_text: str

    @classmethod
    def of(cls, name: str, shape: Shape) -> MemberRules:
        metadata = shape.metadata
        pattern_text = metadata.get("pattern", "")
        enum = metadata.get("enum", [])
        return cls(
            name,
            shape.type_name == "string",
            metadata.get("min"),
            metadata.get("max"),
            _pattern(pattern_text) if pattern_text else None,
            pattern_text,
            frozenset(enum),
            ", ".join(enum),
        )

    def failures(self, value: Any) -> list[str]:
        failures = []
        if isinstance(value, str) and self.is_string:
            size = len(value)
            if self.minimum is not None and size < self.minimum:
                failures.append(f"Member must have length greater than or equal to {self.minimum}")
            if self.maximum is not None and size > self.maximum:
                failures.append(f"Member must have length less than or equal to {self.maximum}")
            if self.pattern is not None and not self.pattern.fullmatch(value):
                failures.append(
                    f"Member must satisfy regular expression pattern: {self.pattern_text}"
                )
            if self.enum and value not in self.enum:
                failures.append(f"Member must satisfy enum value set: [{self.enum_text}]")
        elif isinstance(value, int) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                failures.append(f"Member must have value greater than or equal to {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                failures.append(f"Member must have value less than or equal to {self.maximum}")
        if not failures:
            return failures
        shown = value if not isinstance(value, bytes | bytearray) else "<bytes>"
        prefix = f"Value '{shown}' at '{_wire_name(self.name)}' failed to satisfy constraint: "
        return [prefix + failure for failure in failures]


class Rules:
    """One operation's input constraints, read from its model once."""

    def __init__(self, shape: StructureShape) -> None:
        self.required = tuple(shape.required_members)
        self.members = {name: MemberRules.of(name, m) for name, m in shape.members.items()}

    def check(self, params: dict[str, Any]) -> None:
        """Raise InvalidParameterValueException for every violated constraint, AWS-style."""
        failures = [
            f"Value null at '{_wire_name(name)}' failed to satisfy constraint: "
            "Member must not be null"
            for name in self.required
            if params.get(name) is None
        ]
        for name, value in params.items():
            member = self.members.get(name)
            if member is not None and value is not None:
                failures += member.failures(value)
        if failures:
            count = len(failures)
            errors = "error" if count == 1 else "errors"
            raise InvalidParameterValueException(
                f"{count} validation {errors} detected: {'; '.join(failures)}"
            )
