"""What a deployment is made of, whichever file described it: functions, the layers a template
defines, and the error that names the file and field a problem is in."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_HANDLER = "app.handler"


class ManifestError(Exception):
    """A manifest or template that cannot be deployed: ``where`` names the file and the field."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass(frozen=True, slots=True)
class LayerSpec:
    """A layer a template defines: published (from a folder or a .zip) before the functions
    whose Layers name it with ``!Ref``, which then use the version it became."""

    logical_id: str
    name: str
    content: Path
    description: str = ""
    runtimes: tuple[str, ...] = ()
    license_info: str | None = None
    # Metadata.BuildMethod python3.X, as `sam build` does it: the folder's files and its
    # requirements.txt installed under python/ (on sys.path in the function).
    python_build: bool = False


@dataclass(frozen=True, slots=True)
class FunctionRef:
    """A function of the same deployment named where an ARN is wanted (``!GetAtt F.Arn``, or a
    bare name in gureum.yaml): its ARN is known once the server has it."""

    name: str


@dataclass(frozen=True, slots=True)
class QueueRef:
    """A queue of the same template named where its ARN is wanted (``!GetAtt Q.Arn``): the
    server's region and account make the ARN, at deploy time."""

    name: str


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """An ``AWS::S3::Bucket`` of a template: created if missing, its notifications the
    template's (from its functions' S3 events)."""

    logical_id: str
    name: str


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """An ``AWS::SQS::Queue`` of a template: created if missing, its attributes set."""

    logical_id: str
    name: str
    attributes: dict[str, str] = field(default_factory=dict)
    # A RedrivePolicy's dead-letter queue of the same template (created first), and after how
    # many receives a message moves there.
    dead_letter: QueueRef | None = None
    max_receives: int | None = None


@dataclass(frozen=True, slots=True)
class S3EventSpec:
    """A function's ``Type: S3`` event: a bucket of the template notifies it."""

    bucket: str
    events: tuple[str, ...]
    filter_rules: tuple[tuple[str, str], ...] = ()  # (prefix|suffix, value)


@dataclass(frozen=True, slots=True)
class SqsEventSpec:
    """A function's ``Type: SQS`` event: an event source mapping from the queue."""

    queue: str | QueueRef  # an ARN, or a queue of the template
    batch_size: int = 10
    window_s: int = 0
    enabled: bool = True
    response_types: tuple[str, ...] = ()
    max_concurrency: int | None = None


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """A schedule that invokes the function (SAM's Schedule/ScheduleV2, gureum.yaml's
    ``schedules``), kept in the deployment's schedule group."""

    name: str
    expression: str
    timezone: str = "UTC"
    input: str | None = None
    enabled: bool = True
    description: str = ""
    catch_up: str = "once"


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """An HTTP route to the function (SAM's Api and HttpApi events, gureum.yaml's ``routes``)."""

    route: str  # "GET /users/{id}", "ANY /{proxy+}" or "$default"
    payload_format: str = "2.0"


@dataclass(frozen=True, slots=True)
class UrlSpec:
    """The function's URL (SAM's FunctionUrlConfig, gureum.yaml's ``url``)."""

    auth_type: str = "NONE"
    cors: dict[str, Any] | None = None  # in the Lambda API's shape (AllowOrigins, ...)


@dataclass(frozen=True, slots=True)
class EventInvokeSpec:
    """What happens to asynchronous invocations (SAM's EventInvokeConfig, gureum.yaml's
    ``async``): retries, maximum age, destinations (ARNs or functions of the deployment)."""

    retries: int | None = None
    max_age_s: int | None = None
    on_success: str | FunctionRef | None = None
    on_failure: str | FunctionRef | None = None


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """One function to deploy: its settings and the folder its code comes from."""

    name: str
    code_dir: Path
    runtime: str
    handler: str = DEFAULT_HANDLER
    memory_mb: int = 128
    timeout_s: int = 3
    env: dict[str, str] = field(default_factory=dict)
    description: str = ""
    # Layer version ARNs, or layers of the same template (their ARN known once published).
    layers: tuple[str | LayerSpec, ...] = ()
    # Publish a version after deploying and point this alias at it (SAM's AutoPublishAlias).
    alias: str | None = None
    version_description: str | None = None
    snap_start: str = "None"  # SnapStart ApplyOn: published versions fork from a snapshot
    schedules: tuple[ScheduleSpec, ...] = ()
    routes: tuple[RouteSpec, ...] = ()
    url: UrlSpec | None = None
    event_invoke: EventInvokeSpec | None = None
    s3_events: tuple[S3EventSpec, ...] = ()
    sqs_events: tuple[SqsEventSpec, ...] = ()

    @property
    def target(self) -> str:
        """What events invoke: the alias when there is one (as SAM wires AutoPublishAlias)."""
        return f"{self.name}:{self.alias}" if self.alias else self.name


@dataclass(slots=True)
class Deployment:
    functions: list[FunctionSpec]
    warnings: list[str] = field(default_factory=list)
    source: Path | None = None  # the gureum.yaml or template read, if any
    layers: list[LayerSpec] = field(default_factory=list)  # to publish before the functions
    # Owns the deployment's routes and names its schedule group: what a redeploy replaces.
    stack: str = ""
    buckets: list[BucketSpec] = field(default_factory=list)
    queues: list[QueueSpec] = field(default_factory=list)  # dead-letter queues first
