"""A SAM template's ``AWS::S3::Bucket`` and ``AWS::SQS::Queue`` resources, and its functions'
``S3`` and ``SQS`` events.

What CloudFormation's references give for them: ``!Ref Bucket`` its name, ``!GetAtt
Bucket.Arn`` ``arn:aws:s3:::name``; ``!Ref Queue`` and ``!GetAtt Queue.QueueUrl`` its URL,
``!GetAtt Queue.QueueName`` its name, ``!GetAtt Queue.Arn`` a QueueRef (the server's region and
account make the ARN when deploying).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from . import values
from .specs import BucketSpec, ManifestError, QueueRef, QueueSpec, S3EventSpec, SqsEventSpec

S3_BUCKET = "AWS::S3::Bucket"
SQS_QUEUE = "AWS::SQS::Queue"
# CloudFormation's queue properties that are SQS attributes of the same name.
QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "MaximumMessageSize",
    "FifoQueue",
    "ContentBasedDeduplication",
)
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}(\.fifo)?")
S3_EVENTS = re.compile(r"s3:Object(Created|Removed)(:\*|:[A-Za-z]+)")
RESPONSE_TYPES = ("ReportBatchItemFailures",)

# A resource's properties, read one key at a time with intrinsics resolved (sam.Properties.get).
Getter = Callable[[str, Callable[[str, Any], Any], Any], Any]


def bucket(logical_id: str, get: Getter) -> BucketSpec:
    name = get("BucketName", _bucket_name, logical_id.lower())
    return BucketSpec(logical_id, name)


def queue(logical_id: str, get: Getter) -> QueueSpec:
    name = get("QueueName", _queue_name, logical_id)
    attributes: dict[str, str] = {}
    for key in QUEUE_ATTRIBUTES:
        value = get(key, values.scalar_text, None)
        if value is not None:
            attributes[key] = value
    dead_letter, max_receives = get("RedrivePolicy", _redrive, (None, None))
    return QueueSpec(logical_id, name, attributes, dead_letter, max_receives)


def _bucket_name(where: str, value: Any) -> str:
    name = values.string(where, value)
    if not BUCKET_NAME.fullmatch(name) or ".." in name:
        raise ManifestError(where, f"{name!r} is not a valid bucket name (3-63 a-z 0-9 . -)")
    return name


def _queue_name(where: str, value: Any) -> str:
    name = values.string(where, value)
    if not QUEUE_NAME.fullmatch(name):
        raise ManifestError(where, f"{name!r} is not a valid queue name (1-80 A-Z a-z 0-9 - _)")
    return name


def _redrive(where: str, value: Any) -> tuple[QueueRef, int]:
    policy = values.mapping(value, where, "RedrivePolicy")
    target = policy.get("deadLetterTargetArn")
    if not isinstance(target, QueueRef):
        raise ManifestError(
            f"{where}.deadLetterTargetArn",
            "expected !GetAtt Queue.Arn of a queue in this template",
        )
    count = policy.get("maxReceiveCount")
    if isinstance(count, str) and count.isdigit():
        count = int(count)
    return target, values.integer(f"{where}.maxReceiveCount", count)


def s3_event(where: str, p: Any, buckets: dict[str, str]) -> S3EventSpec:
    """``Type: S3``: ``Bucket: !Ref B`` (a bucket of the template), ``Events``, ``Filter``."""
    bucket_name = p.get("Bucket", values.string)
    if bucket_name is None:
        raise ManifestError(f"{where}.Bucket", "required: !Ref of a bucket in this template")
    if bucket_name not in buckets.values():
        raise ManifestError(
            f"{where}.Bucket", "must be !Ref of an AWS::S3::Bucket in this template (as in SAM)"
        )
    events = p.get("Events", _s3_events)
    if events is None:
        raise ManifestError(f"{where}.Events", "required, e.g. s3:ObjectCreated:*")
    return S3EventSpec(bucket_name, events, p.get("Filter", _s3_filter, ()))


def _s3_events(where: str, value: Any) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names:
        raise ManifestError(where, "expected an event name or a list of them")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not S3_EVENTS.fullmatch(name):
            raise ManifestError(
                f"{where}[{i}]", f"{name!r} is not an S3 event such as s3:ObjectCreated:*"
            )
    return tuple(names)


def _s3_filter(where: str, value: Any) -> tuple[tuple[str, str], ...]:
    document = values.mapping(value, where, "Filter")
    key = values.mapping(document.get("S3Key"), f"{where}.S3Key", "S3Key")
    rules = key.get("Rules")
    if not isinstance(rules, list):
        raise ManifestError(f"{where}.S3Key.Rules", "expected a list of {Name, Value}")
    parsed = []
    for i, rule in enumerate(rules):
        at = f"{where}.S3Key.Rules[{i}]"
        rule = values.mapping(rule, at, "a rule")
        name = str(rule.get("Name", "")).lower()
        if name not in ("prefix", "suffix"):
            raise ManifestError(f"{at}.Name", "expected prefix or suffix")
        parsed.append((name, values.string(f"{at}.Value", rule.get("Value"))))
    return tuple(parsed)


def sqs_event(where: str, p: Any) -> SqsEventSpec:
    """``Type: SQS``: ``Queue`` (an ARN or ``!GetAtt Q.Arn``) and the mapping's settings."""
    target = p.get("Queue", _queue_target)
    if target is None:
        raise ManifestError(f"{where}.Queue", "required: a queue's ARN or !GetAtt Queue.Arn")
    scaling = p.get("ScalingConfig", _any, None) or {}
    return SqsEventSpec(
        queue=target,
        batch_size=p.get("BatchSize", values.integer, 10),
        window_s=p.get("MaximumBatchingWindowInSeconds", values.integer, 0),
        enabled=p.get("Enabled", values.boolean, True),
        response_types=tuple(p.get("FunctionResponseTypes", _response_types, ())),
        max_concurrency=scaling.get("MaximumConcurrency") if isinstance(scaling, dict) else None,
    )


def _queue_target(where: str, value: Any) -> str | QueueRef:
    if isinstance(value, QueueRef):
        return value
    text = values.string(where, value)
    if not text.startswith("arn:") or ":sqs:" not in text:
        raise ManifestError(where, f"{text!r} is not a queue ARN")
    return text


def _response_types(where: str, value: Any) -> list[str]:
    names = values.string_list(where, value)
    for name in names:
        if name not in RESPONSE_TYPES:
            raise ManifestError(where, f"expected {', '.join(RESPONSE_TYPES)}, got {name!r}")
    return names


def _any(where: str, value: Any) -> Any:
    return value
