"""Messages: what a send is checked for, the MD5s SQS answers with, and receipt handles.

Message attributes are kept in the SQS JSON shape (``{"name": {"DataType": "String",
"StringValue": "v"}}``, binary values base64 text), the same shape ReceiveMessage returns, so
nothing is converted on the way out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidMessageContents, InvalidParameterValue, ReceiptHandleIsInvalid

MAX_ATTRIBUTES = 10
# The characters SQS accepts in a body or a string attribute (XML's): #x9 | #xA | #xD |
# #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF. Lone surrogates fall outside.
_INVALID_CHARACTER = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_DATA_TYPE = re.compile(r"(String|Number|Binary)(\..{1,250})?", re.DOTALL)
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")

Attributes = dict[str, dict[str, str]]


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def md5_of_attributes(attributes: Mapping[str, Mapping[str, str]]) -> str:
    """SQS's MD5 of message attributes: per attribute, sorted by name, the length-prefixed
    (4 bytes, big-endian) name and data type, a transport byte (1 string, 2 binary), and the
    length-prefixed value."""
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        attribute = attributes[name]
        _add(digest, name.encode())
        _add(digest, attribute["DataType"].encode())
        if "StringValue" in attribute:
            digest.update(b"\x01")
            _add(digest, attribute["StringValue"].encode())
        else:
            digest.update(b"\x02")
            _add(digest, base64.b64decode(attribute["BinaryValue"]))
    return digest.hexdigest()


def _add(digest: Any, data: bytes) -> None:
    digest.update(struct.pack(">I", len(data)))
    digest.update(data)


def check_body(body: object) -> str:
    if not isinstance(body, str) or body == "":
        raise InvalidParameterValue(
            "The request must contain the parameter MessageBody."
            if not body
            else "Value for parameter MessageBody is invalid. Reason: must be a string."
        )
    if _INVALID_CHARACTER.search(body):
        raise InvalidMessageContents(
            "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | "
            "#x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"
        )
    return body


def check_attributes(attributes: object, *, system: bool = False) -> tuple[Attributes, int]:
    """Message (or message system) attributes checked and normalised to the JSON shape, and
    the bytes they count towards the message size."""
    kind = "system" if system else "user"
    if attributes is None:
        return {}, 0
    if not isinstance(attributes, dict):
        raise InvalidParameterValue(f"Message ({kind}) attributes must be a map.")
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidParameterValue(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum "
            f"[{MAX_ATTRIBUTES}]."
        )
    checked: Attributes = {}
    size = 0
    for name, value in attributes.items():
        if system and name != "AWSTraceHeader":
            raise InvalidParameterValue(
                f"Message system attribute name '{name}' is invalid. Valid names: AWSTraceHeader."
            )
        if not system:
            _check_attribute_name(name)
        checked[name], value_size = _check_attribute(name, value, kind)
        size += len(name.encode()) + len(checked[name]["DataType"].encode()) + value_size
    return checked, size


def _check_attribute_name(name: str) -> None:
    lowered = name.lower()
    if (
        not _ATTRIBUTE_NAME.fullmatch(name)
        or lowered.startswith(("aws.", "amazon."))
        or ".." in name
        or name.startswith(".")
        or name.endswith(".")
    ):
        raise InvalidParameterValue(
            f"Message (user) attribute name '{name}' is invalid. The attribute name can contain "
            "alphanumeric characters and the underscore (_), hyphen (-), and period (.)."
        )


def _check_attribute(name: str, value: object, kind: str) -> tuple[dict[str, str], int]:
    if not isinstance(value, dict):
        raise InvalidParameterValue(f"Message ({kind}) attribute '{name}' must be a structure.")
    data_type = value.get("DataType")
    if not isinstance(data_type, str) or not data_type:
        raise InvalidParameterValue(
            f"The message ({kind}) attribute '{name}' must contain a non-empty attribute type."
        )
    matched = _DATA_TYPE.fullmatch(data_type)
    if matched is None or len(data_type) > 256:
        raise InvalidParameterValue(
            f"The type of message ({kind}) attribute '{name}' is invalid. You must use only "
            "the following supported type prefixes: Binary, Number, String."
        )
    if value.get("StringListValues") or value.get("BinaryListValues"):
        raise InvalidParameterValue(
            f"Message ({kind}) attribute '{name}': list values are not supported."
        )
    base = matched.group(1)
    if base == "Binary":
        return _binary_attribute(name, data_type, value.get("BinaryValue"), kind)
    text = value.get("StringValue")
    if not isinstance(text, str) or text == "":
        raise InvalidParameterValue(
            f"Message ({kind}) attribute '{name}' must contain a non-empty value of type '{base}'."
        )
    if _INVALID_CHARACTER.search(text):
        raise InvalidMessageContents(
            f"Message ({kind}) attribute '{name}' value contains invalid characters."
        )
    if base == "Number" and not _NUMBER.fullmatch(text):
        raise InvalidParameterValue(
            f"Can't cast the value of message ({kind}) attribute '{name}' to a number."
        )
    return {"DataType": data_type, "StringValue": text}, len(text.encode())


def _binary_attribute(
    name: str, data_type: str, encoded: object, kind: str
) -> tuple[dict[str, str], int]:
    try:
        raw = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else b""
    except binascii.Error:
        raw = b""
    if not raw:
        raise InvalidParameterValue(
            f"Message ({kind}) attribute '{name}' must contain a non-empty value of type 'Binary'."
        )
    return {"DataType": data_type, "BinaryValue": encoded}, len(raw)  # type: ignore[dict-item]


def select_attributes(attributes: Attributes, wanted: frozenset[str]) -> Attributes:
    """The attributes a ReceiveMessage asked for: names, ``All`` or ``.*``, and ``prefix.*``."""
    if not attributes or not wanted:
        return {}
    if "All" in wanted or ".*" in wanted:
        return attributes
    prefixes = tuple(name[:-1] for name in wanted if name.endswith(".*"))
    return {
        name: value
        for name, value in attributes.items()
        if name in wanted or (prefixes and name.startswith(prefixes))
    }


# -- receipt handles -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a receipt handle names: one receive of one message of one queue."""

    queue_id: int
    row_id: int
    receive_count: int

    def handle(self) -> str:
        text = f"{self.queue_id}:{self.row_id}:{self.receive_count}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def parse(cls, handle: object) -> Receipt:
        if not isinstance(handle, str) or not 0 < len(handle) <= 1024:
            raise ReceiptHandleIsInvalid(f'The input receipt handle "{handle}" is not valid.')
        try:
            text = base64.urlsafe_b64decode(handle + "=" * (-len(handle) % 4)).decode()
            queue_id, row_id, count = (int(part) for part in text.split(":"))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise ReceiptHandleIsInvalid(
                f'The input receipt handle "{handle}" is not a valid receipt handle.'
            ) from None
        return cls(queue_id, row_id, count)


@dataclass(frozen=True, slots=True)
class Message:
    """A received message, as ReceiveMessage shows it.

    ``attributes`` are the system attributes by their SQS names (SenderId, SentTimestamp,
    ApproximateReceiveCount, ApproximateFirstReceiveTimestamp, and when they apply
    AWSTraceHeader, DeadLetterQueueSourceArn, MessageGroupId, MessageDeduplicationId,
    SequenceNumber), all strings; ``message_attributes`` are in the SQS JSON shape (binary
    values as base64 text). Treat both as read-only."""

    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    attributes: dict[str, str]
    message_attributes: Attributes
    md5_of_message_attributes: str | None


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One message to send, as SendMessage(Batch) gives it (checked by ``Queues``)."""

    body: str
    message_attributes: object = None  # the SQS JSON shape
    system_attributes: object = None  # {"AWSTraceHeader": {...}} only
    delay_s: int | None = None
    group_id: str | None = None  # FIFO queues
    deduplication_id: str | None = None  # FIFO queues


@dataclass(frozen=True, slots=True)
class SentMessage:
    message_id: str
    md5_of_body: str
    md5_of_message_attributes: str | None
    md5_of_system_attributes: str | None
    sequence_number: str | None = None  # FIFO queues
