"""Bucket notifications: which events of a bucket go to which Lambda function or SQS queue, and
the S3 event record each one receives (the JSON AWS hands to Lambda and puts on queues)."""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from urllib.parse import quote_plus

from .errors import InvalidArgument
from .types import OWNER_ID, REGION, ObjectInfo, Requester

# The event types S3 accepts in a configuration (gureum emits ObjectCreated:Put, :Copy,
# :CompleteMultipartUpload and ObjectRemoved:Delete; the others are accepted and never happen).
EVENT_TYPES = frozenset(
    {
        "s3:ObjectCreated:*",
        "s3:ObjectCreated:Put",
        "s3:ObjectCreated:Post",
        "s3:ObjectCreated:Copy",
        "s3:ObjectCreated:CompleteMultipartUpload",
        "s3:ObjectRemoved:*",
        "s3:ObjectRemoved:Delete",
        "s3:ObjectRemoved:DeleteMarkerCreated",
        "s3:ObjectRestore:*",
        "s3:ObjectRestore:Post",
        "s3:ObjectRestore:Completed",
        "s3:ObjectRestore:Delete",
        "s3:ReducedRedundancyLostObject",
        "s3:Replication:*",
        "s3:Replication:OperationFailedReplication",
        "s3:Replication:OperationMissedThreshold",
        "s3:Replication:OperationReplicatedAfterThreshold",
        "s3:Replication:OperationNotTracked",
        "s3:LifecycleExpiration:*",
        "s3:LifecycleExpiration:Delete",
        "s3:LifecycleExpiration:DeleteMarkerCreated",
        "s3:LifecycleTransition",
        "s3:IntelligentTiering",
        "s3:ObjectTagging:*",
        "s3:ObjectTagging:Put",
        "s3:ObjectTagging:Delete",
        "s3:ObjectAcl:Put",
    }
)

_PARTITION = r"aws(?:-cn|-us-gov|-iso|-iso-b)?"
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d"
_LAMBDA_ARN = re.compile(
    rf"arn:{_PARTITION}:lambda:{_REGION}:\d{{12}}:function:[A-Za-z0-9_-]{{1,64}}"
    r"(?::(?:\$LATEST|[A-Za-z0-9_-]{1,128}))?"
)
_QUEUE_ARN = re.compile(
    rf"arn:{_PARTITION}:sqs:{_REGION}:\d{{12}}:[A-Za-z0-9_-]{{1,80}}(?:\.fifo)?"
)


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``LambdaFunctionConfiguration`` (kind "lambda") or ``QueueConfiguration`` ("queue")."""

    id: str
    kind: str
    arn: str
    events: tuple[str, ...]
    filter_rules: tuple[tuple[str, str], ...] = ()  # (Name, Value) as configured

    def matches(self, event_name: str, key: str) -> bool:
        """Whether this rule wants ``event_name`` (``ObjectCreated:Put``) on ``key``."""
        family = event_name.partition(":")[0]
        if f"s3:{event_name}" not in self.events and f"s3:{family}:*" not in self.events:
            return False
        for name, value in self.filter_rules:
            if name.lower() == "prefix" and not key.startswith(value):
                return False
            if name.lower() == "suffix" and not key.endswith(value):
                return False
        return True


def check(rules: Sequence[Rule]) -> list[Rule]:
    """``rules`` with an Id each (generated where missing), or InvalidArgument: destination ARNs
    must be well-formed Lambda function or SQS queue ARNs (they need not exist), events known,
    filters at most one prefix and one suffix."""
    checked = []
    for rule in rules:
        pattern = _LAMBDA_ARN if rule.kind == "lambda" else _QUEUE_ARN
        if not pattern.fullmatch(rule.arn):
            raise InvalidArgument(
                "Unable to validate the following destination configurations",
                ArgumentName=rule.arn,
                ArgumentValue="The destination ARN is not a valid "
                + ("Lambda function" if rule.kind == "lambda" else "SQS queue")
                + " ARN",
            )
        if not rule.events:
            raise InvalidArgument("A notification configuration needs at least one event.")
        for event in rule.events:
            if event not in EVENT_TYPES:
                raise InvalidArgument(
                    "The event is not supported for notifications",
                    ArgumentName=event,
                    ArgumentValue=event,
                )
        names = [name.lower() for name, _ in rule.filter_rules]
        if any(name not in ("prefix", "suffix") for name in names) or len(set(names)) < len(names):
            raise InvalidArgument(
                "Filter rule name must be either prefix or suffix, each at most once.",
                ArgumentName="FilterRule.Name",
            )
        checked.append(rule if rule.id else replace(rule, id=_new_id()))
    ids = [rule.id for rule in checked]
    if len(set(ids)) < len(ids):
        raise InvalidArgument("Configuration Ids must be unique.", ArgumentName="Id")
    return checked


def _new_id() -> str:
    # S3 names an unnamed configuration with a random string of this shape.
    return secrets.token_urlsafe(36)[:48]


def dumps(rules: Iterable[Rule]) -> str:
    return json.dumps([asdict(rule) for rule in rules])


def loads(text: str) -> list[Rule]:
    return [
        Rule(
            id=item["id"],
            kind=item["kind"],
            arn=item["arn"],
            events=tuple(item["events"]),
            filter_rules=tuple((name, value) for name, value in item["filter_rules"]),
        )
        for item in json.loads(text)
    ]


class Sequencer:
    """S3's ``sequencer``: hex that grows with every event, so a consumer can order the events
    of one key (wall-clock nanoseconds, kept strictly increasing)."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self, now: float) -> str:
        with self._lock:
            self._last = max(self._last + 1, int(now * 1e9))
            return f"{self._last:018X}"


def record(
    rule: Rule,
    event_name: str,
    bucket: str,
    key: str,
    info: ObjectInfo | None,
    requester: Requester,
    now: float,
    sequencer: str,
) -> bytes:
    """The event JSON S3 sends for one event to one destination: ``{"Records": [...]}``."""
    event_time = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    obj: dict[str, object] = {"key": quote_plus(key, safe="/")}
    if info is not None:
        obj["size"] = info.size
        obj["eTag"] = info.etag
    obj["sequencer"] = sequencer
    entry = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": event_time,
        "eventName": event_name,
        "userIdentity": {"principalId": f"AWS:{requester.principal_id}"},
        "requestParameters": {"sourceIPAddress": requester.source_ip},
        "responseElements": {
            "x-amz-request-id": requester.request_id,
            "x-amz-id-2": requester.host_id,
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": rule.id,
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": OWNER_ID},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }
    return json.dumps({"Records": [entry]}, separators=(",", ":")).encode()
