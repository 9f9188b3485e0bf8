"""Message checks, the MD5s SQS answers with, and receipt handles: pure functions."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest

from gureum.services.queues.errors import (
    InvalidMessageContents,
    InvalidParameterValue,
    ReceiptHandleIsInvalid,
)
from gureum.services.queues.messages import (
    Receipt,
    check_attributes,
    check_body,
    md5_of_attributes,
    select_attributes,
)


def number(value: str) -> dict[str, str]:
    return {"DataType": "Number", "StringValue": value}


def test_md5_of_attributes_matches_the_digests_sqs_returns() -> None:
    # Digests AWS returned for these attributes (pinned by moto's and LocalStack's test suites).
    assert md5_of_attributes({"timestamp": number("1493147359900")}) == (
        "235c5c510d26fb653d073faed50ae77c"
    )
    assert md5_of_attributes({"timestamp": number("1493147359901")}) == (
        "994258b45346a2cc3f9cbb611aa7af30"
    )
    several = {
        "ccc": {"DataType": "String", "StringValue": "testjunk"},
        "aaa": {"DataType": "Binary", "BinaryValue": base64.b64encode(b"\x02\x03\x04").decode()},
        "zzz": number("0230.01"),
        "öther_encodings": {"DataType": "String", "StringValue": "Tüst"},
    }
    assert md5_of_attributes(several) == "8ae21a7957029ef04146b42aeaa18a22"


def test_md5_of_a_binary_attribute_is_built_as_documented() -> None:
    def field(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    expected = field(b"bin") + field(b"Binary.gif") + b"\x02" + field(b"hi")
    attributes = {
        "bin": {"DataType": "Binary.gif", "BinaryValue": base64.b64encode(b"hi").decode()}
    }
    assert md5_of_attributes(attributes) == hashlib.md5(expected).hexdigest()


def test_valid_attributes_are_kept_and_sized() -> None:
    attributes = {
        "name.with-dots_1": {"DataType": "String.custom", "StringValue": "ü"},
        "n": number("-1.5e3"),
        "b": {"DataType": "Binary", "BinaryValue": base64.b64encode(b"abc").decode()},
    }
    checked, size = check_attributes(attributes)
    assert checked == attributes
    assert size == (16 + 13 + 2) + (1 + 6 + 6) + (1 + 6 + 3)


@pytest.mark.parametrize(
    "attributes",
    [
        {"AWS.reserved": number("1")},
        {"amazon.x": number("1")},
        {"a..b": number("1")},
        {".a": number("1")},
        {"a b": number("1")},
        {"a": {"DataType": "Text", "StringValue": "x"}},
        {"a": {"DataType": "String"}},
        {"a": {"DataType": "String", "StringValue": ""}},
        {"a": number("one")},
        {"a": {"DataType": "Binary", "BinaryValue": ""}},
        {"a": {"DataType": "String", "StringListValues": ["x"], "StringValue": "x"}},
        {f"a{n}": number("1") for n in range(11)},
    ],
)
def test_invalid_attributes_are_refused(attributes: dict[str, dict[str, object]]) -> None:
    with pytest.raises(InvalidParameterValue):
        check_attributes(attributes)


def test_bodies_with_characters_outside_xml_are_refused() -> None:
    assert check_body("tab\tnewline\n emoji 😀") == "tab\tnewline\n emoji 😀"
    for bad in ("bell \x07", "lone surrogate \ud800", "\ufffe"):
        with pytest.raises(InvalidMessageContents):
            check_body(bad)
    with pytest.raises(InvalidParameterValue):
        check_body("")


def test_select_attributes_by_name_all_and_prefix() -> None:
    attributes = {"a.x": number("1"), "a.y": number("2"), "b": number("3")}
    assert select_attributes(attributes, frozenset({"All"})) is attributes
    assert select_attributes(attributes, frozenset({".*"})) is attributes
    assert select_attributes(attributes, frozenset({"a.*"})) == {
        "a.x": number("1"),
        "a.y": number("2"),
    }
    assert select_attributes(attributes, frozenset({"b", "missing"})) == {"b": number("3")}
    assert select_attributes(attributes, frozenset()) == {}


def test_receipt_handles_round_trip_and_garbage_is_invalid() -> None:
    receipt = Receipt(queue_id=3, row_id=12345, receive_count=2)
    assert Receipt.parse(receipt.handle()) == receipt
    for garbage in ("", "not a handle!", "bm90LW51bWJlcnM", "x" * 2000):
        with pytest.raises(ReceiptHandleIsInvalid):
            Receipt.parse(garbage)
