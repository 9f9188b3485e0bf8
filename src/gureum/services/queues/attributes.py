"""A queue's attributes: which exist, their defaults and limits, and the settings read from them.

Attributes are kept as SQS shows them (strings, normalised: ``"030"`` is stored as ``"30"``), so
that GetQueueAttributes answers them as they are and CreateQueue's "same attributes?" is a plain
comparison. ``QueueSettings`` is the typed view the message paths read, built once per change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidAttributeName, InvalidAttributeValue, InvalidParameterValue

# Integer attributes: (default, lowest, highest), as the botocore model documents them.
INTEGERS: dict[str, tuple[int, int, int]] = {
    "DelaySeconds": (0, 0, 900),
    "MaximumMessageSize": (1_048_576, 1024, 1_048_576),
    "MessageRetentionPeriod": (345_600, 60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, 0, 20),
    "VisibilityTimeout": (30, 0, 43_200),
}
BOOLEANS = ("SqsManagedSseEnabled", "ContentBasedDeduplication")
JSON_VALUED = ("RedrivePolicy", "RedriveAllowPolicy", "Policy")
FIFO_ONLY = ("ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")
SETTABLE = frozenset((*INTEGERS, *BOOLEANS, *JSON_VALUED, *FIFO_ONLY))
# Computed by the queue, never set.
READ_ONLY = frozenset(
    (
        "QueueArn",
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
        "CreatedTimestamp",
        "LastModifiedTimestamp",
    )
)
ALL_NAMES = frozenset((*SETTABLE, *READ_ONLY, "FifoQueue"))
# Accepted by AWS, refused here with a reason rather than silently ignored.
REFUSED = {
    "KmsMasterKeyId": "gureum does not encrypt queues with KMS keys",
    "KmsDataKeyReusePeriodSeconds": "gureum does not encrypt queues with KMS keys",
}
MAX_RECEIVE_COUNT = (1, 1000)
QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
FIFO_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,75}\.fifo")


def defaults(fifo: bool) -> dict[str, str]:
    values = {name: str(default) for name, (default, _, _) in INTEGERS.items()}
    values["SqsManagedSseEnabled"] = "true"
    if fifo:
        values.update(
            FifoQueue="true",
            ContentBasedDeduplication="false",
            DeduplicationScope="queue",
            FifoThroughputLimit="perQueue",
        )
    return values


def check_name(name: str, fifo: bool) -> None:
    if fifo and not FIFO_QUEUE_NAME.fullmatch(name):
        raise InvalidParameterValue(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
            "underscores, must end with .fifo suffix and be 1 to 80 in length."
        )
    if not fifo and not QUEUE_NAME.fullmatch(name):
        raise InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )


def is_fifo_request(name: str, attributes: Mapping[str, str]) -> bool:
    """Whether CreateQueue asks for a FIFO queue (FifoQueue=true; a .fifo name needs it)."""
    value = attributes.get("FifoQueue")
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise InvalidAttributeValue("Invalid value for the parameter FifoQueue.")
    if value.lower() == "false":
        raise InvalidAttributeValue(
            "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not "
            "supported."
        )
    return True


# What a RedrivePolicy needs to know about its target: None if no such queue, else
# (is it FIFO, its RedriveAllowPolicy or None).
DeadLetterLookup = Callable[[str], tuple[bool, str | None] | None]


def normalise(
    given: Mapping[str, str],
    *,
    fifo: bool,
    arn: str,
    dead_letter: DeadLetterLookup,
) -> dict[str, str]:
    """The attributes ``given`` to CreateQueue or SetQueueAttributes, checked and normalised.

    An empty RedrivePolicy or RedriveAllowPolicy stays empty: it means "remove"."""
    values: dict[str, str] = {}
    for name, value in given.items():
        if name == "FifoQueue":
            continue  # decided by is_fifo_request at creation, never changed
        if name in REFUSED:
            raise InvalidAttributeName(f"Unsupported attribute {name}: {REFUSED[name]}.")
        if name not in SETTABLE or (name in FIFO_ONLY and not fifo):
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
        if not isinstance(value, str):
            raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
        values[name] = _normalise_one(name, value, arn, dead_letter, fifo)
    return values


def _normalise_one(
    name: str, value: str, arn: str, dead_letter: DeadLetterLookup, fifo: bool
) -> str:
    if name in INTEGERS:
        _, low, high = INTEGERS[name]
        number = _integer(value)
        if number is None or not low <= number <= high:
            raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
        return str(number)
    if name in BOOLEANS:
        if value.lower() not in ("true", "false"):
            raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
        return value.lower()
    if name == "RedrivePolicy":
        return "" if value == "" else _redrive_policy(value, arn, dead_letter, fifo)
    if name == "RedriveAllowPolicy":
        return "" if value == "" else _redrive_allow_policy(value)
    if name == "Policy":
        if value != "":
            _json_object(name, value)
        return value
    if name == "DeduplicationScope" and value not in ("queue", "messageGroup"):
        raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
    if name == "FifoThroughputLimit" and value not in ("perQueue", "perMessageGroupId"):
        raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
    return value


def _integer(value: str) -> int | None:
    text = value.strip()
    if not re.fullmatch(r"[+-]?\d{1,12}", text):
        return None
    return int(text)


def _json_object(name: str, value: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
    return parsed


def _redrive_policy(value: str, arn: str, dead_letter: DeadLetterLookup, fifo: bool) -> str:
    def invalid(reason: str) -> InvalidParameterValue:
        return InvalidParameterValue(
            f"Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}"
        )

    policy = _json_object("RedrivePolicy", value)
    target, count = policy.get("deadLetterTargetArn"), policy.get("maxReceiveCount")
    if set(policy) - {"deadLetterTargetArn", "maxReceiveCount"}:
        raise invalid("Only deadLetterTargetArn and maxReceiveCount are allowed.")
    if not isinstance(target, str) or count is None:
        raise invalid(
            "Redrive policy does not contain mandatory attribute: "
            + ("deadLetterTargetArn." if not isinstance(target, str) else "maxReceiveCount.")
        )
    number = count if isinstance(count, int) and not isinstance(count, bool) else None
    if isinstance(count, str):
        number = _integer(count)
    if number is None or not MAX_RECEIVE_COUNT[0] <= number <= MAX_RECEIVE_COUNT[1]:
        raise invalid("Invalid value for maxReceiveCount: must be an integer from 1 to 1000.")
    if target == arn:
        raise invalid("A queue cannot be its own dead-letter queue.")
    target_facts = dead_letter(target)
    if target_facts is None:
        raise invalid("Dead letter target does not exist.")
    target_fifo, allow = target_facts
    if target_fifo != fifo:
        raise invalid("Dead-letter queue must be the same type of queue as the source.")
    if allow and not redrive_allowed(allow, arn):
        raise invalid("Queue " + arn + " is not allowed to use " + target + " as its DLQ.")
    return json.dumps(
        {"deadLetterTargetArn": target, "maxReceiveCount": number}, separators=(",", ":")
    )


def _redrive_allow_policy(value: str) -> str:
    policy = _json_object("RedriveAllowPolicy", value)
    permission = policy.get("redrivePermission")
    sources = policy.get("sourceQueueArns")
    valid = permission in ("allowAll", "denyAll", "byQueue") and (
        (permission == "byQueue")
        == (
            isinstance(sources, list)
            and 1 <= len(sources) <= 10
            and all(isinstance(s, str) for s in sources)
        )
    )
    if not valid or set(policy) - {"redrivePermission", "sourceQueueArns"}:
        raise InvalidAttributeValue("Invalid value for the parameter RedriveAllowPolicy.")
    return json.dumps(policy, separators=(",", ":"))


def redrive_allowed(allow_policy: str, source_arn: str) -> bool:
    policy = json.loads(allow_policy)
    permission = policy["redrivePermission"]
    if permission == "denyAll":
        return False
    return permission == "allowAll" or source_arn in policy.get("sourceQueueArns", [])


MAX_TAGS = 50


def check_tags(tags: Mapping[str, str]) -> dict[str, str]:
    if len(tags) > MAX_TAGS:
        raise InvalidParameterValue(f"Too many tags: a queue may have at most {MAX_TAGS}.")
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            raise InvalidParameterValue(f"Tag key {key!r} is invalid: 1 to 128 characters.")
        if not isinstance(value, str) or len(value) > 256:
            raise InvalidParameterValue(f"Tag value for {key!r} is invalid: up to 256 characters.")
    return dict(tags)


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """The attributes the message paths read, typed."""

    visibility_timeout_s: int
    retention_s: int
    delay_s: int
    wait_s: int
    max_message_bytes: int
    dead_letter_arn: str | None
    max_receive_count: int
    fifo: bool
    content_based_deduplication: bool
    deduplication_by_group: bool

    @classmethod
    def of(cls, attributes: Mapping[str, str]) -> QueueSettings:
        redrive = json.loads(attributes["RedrivePolicy"]) if attributes.get("RedrivePolicy") else {}
        return cls(
            visibility_timeout_s=int(attributes["VisibilityTimeout"]),
            retention_s=int(attributes["MessageRetentionPeriod"]),
            delay_s=int(attributes["DelaySeconds"]),
            wait_s=int(attributes["ReceiveMessageWaitTimeSeconds"]),
            max_message_bytes=int(attributes["MaximumMessageSize"]),
            dead_letter_arn=redrive.get("deadLetterTargetArn"),
            max_receive_count=int(redrive.get("maxReceiveCount", 0)),
            fifo=attributes.get("FifoQueue") == "true",
            content_based_deduplication=attributes.get("ContentBasedDeduplication") == "true",
            deduplication_by_group=attributes.get("DeduplicationScope") == "messageGroup",
        )
