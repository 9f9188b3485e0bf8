"""The SQS JSON protocol's input, checked against botocore's ``sqs`` model before any operation
sees it: required members present, each value of its shape's JSON type. botocore checks the same
on the client side, but any HTTP client may call; an operation can then trust the types it reads.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ..services.queues.errors import InvalidParameterValue, MissingParameter

_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "long": int,
    "boolean": bool,
    "list": list,
    "map": dict,
    "structure": dict,
    "blob": str,
}


def check_input(shape: Any, value: object, path: str = "") -> None:
    """Raises MissingParameter or InvalidParameterValue for input that does not fit ``shape``
    (a botocore Shape). Members the model does not know are left alone, as AWS does."""
    kind = shape.type_name
    expected = _JSON_TYPES.get(kind)
    wrong_type = expected is not None and (
        not isinstance(value, expected) or (kind in ("integer", "long") and isinstance(value, bool))
    )
    if wrong_type:
        where = path.rstrip(".") or "request"
        raise InvalidParameterValue(
            f"Value {value!r} for parameter {where} is invalid. Reason: must be a {kind}."
        )
    if kind == "structure":
        assert isinstance(value, dict)
        for name in shape.required_members:
            if value.get(name) is None:
                raise MissingParameter(f"The request must contain the parameter {path}{name}.")
        for name, member_value in value.items():
            member = shape.members.get(name)
            if member is not None and member_value is not None:
                check_input(member, member_value, f"{path}{name}.")
    elif kind == "list":
        assert isinstance(value, list)
        for index, item in enumerate(value, 1):
            check_input(shape.member, item, f"{path.rstrip('.')}.{index}.")
    elif kind == "map":
        assert isinstance(value, dict)
        for key, item in value.items():
            check_input(shape.key, key, f"{path}{key}")
            check_input(shape.value, item, f"{path}{key}.")
    elif kind == "blob":
        assert isinstance(value, str)
        try:
            base64.b64decode(value, validate=True)
        except binascii.Error:
            raise InvalidParameterValue(
                f"Value for parameter {path.rstrip('.')} is invalid. Reason: not base64."
            ) from None
