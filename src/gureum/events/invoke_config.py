"""How a function's asynchronous invocations are delivered: retries, maximum age, destinations.

Lambda's FunctionEventInvokeConfig, one per function and qualifier ($LATEST, a version or an
alias). Destinations name another function, or a queue, by ARN.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from ..errors import InvalidParameterValueException
from ..types import LATEST

DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_AGE_S = 21600
MAX_AGE_RANGE = (60, 21600)
RETRY_RANGE = (0, 2)


@dataclass(frozen=True, slots=True)
class EventInvokeConfig:
    function: str
    qualifier: str = LATEST
    max_retries: int = DEFAULT_MAX_RETRIES
    max_age_s: int = DEFAULT_MAX_AGE_S
    on_success: str | None = None  # destination ARN
    on_failure: str | None = None
    last_modified: float = 0.0
    # Whether the user set these (a Get shows only what was set, as Lambda does).
    retries_set: bool = False
    age_set: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> EventInvokeConfig:
        return cls(**json.loads(text))


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a record goes: a function (name and optional qualifier), or a queue: then
    ``function`` is the queue's ARN (a name never holds ':'), and delivering the event sends
    it to the queue."""

    function: str
    qualifier: str | None


QUEUE_ARN_PREFIX = "arn:aws:sqs:"


def is_queue(target: str) -> bool:
    """Whether an event's target (a Destination's ``function``) is a queue."""
    return target.startswith(QUEUE_ARN_PREFIX)


def check_retries(value: int) -> int:
    low, high = RETRY_RANGE
    if not low <= value <= high:
        raise InvalidParameterValueException(
            f"MaximumRetryAttempts must be between {low} and {high}, got {value}"
        )
    return value


def check_max_age(value: int) -> int:
    low, high = MAX_AGE_RANGE
    if not low <= value <= high:
        raise InvalidParameterValueException(
            f"MaximumEventAgeInSeconds must be between {low} and {high}, got {value}"
        )
    return value


def parse_destination(arn: str, region: str, account: str) -> Destination:
    """A destination ARN gureum can deliver to, or InvalidParameterValueException saying why
    not. Lambda also takes SNS topics and EventBridge buses, which gureum does not have."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise InvalidParameterValueException(f"The destination ARN {arn} is invalid.")
    service = parts[2]
    queue = service == "sqs" and len(parts) == 6 and bool(parts[5])
    if not queue and (service != "lambda" or parts[5] != "function" or len(parts) not in (7, 8)):
        raise InvalidParameterValueException(
            f"The destination ARN {arn} is not supported: gureum delivers to functions "
            "(arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]) and queues "
            "(arn:aws:sqs:REGION:ACCOUNT:NAME)."
        )
    if parts[3] != region or parts[4] != account:
        raise InvalidParameterValueException(
            f"The destination ARN {arn} is in another region or account than this gureum "
            f"({region}, {account})."
        )
    if queue:
        return Destination(arn, None)
    return Destination(parts[6], parts[7] if len(parts) == 8 else None)
