"""SAM templates: their AWS::Serverless::Function and AWS::Serverless::LayerVersion resources,
with the Globals section merged as SAM merges it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import InvalidParameterValueException
from ...validation import validate_function_name
from . import resources as aws
from . import triggers, values
from .intrinsics import Resolver, TemplateLoader, parameter_defaults
from .specs import BucketSpec, Deployment, FunctionSpec, LayerSpec, ManifestError, QueueSpec
from .values import T

TEMPLATE_NAMES = ("template.yaml", "template.yml")
SAM_FUNCTION = "AWS::Serverless::Function"
SAM_LAYER = "AWS::Serverless::LayerVersion"

# What gureum reads from a function's Properties; SAM's other properties are reported as ignored.
SAM_READ = (
    "CodeUri",
    "Handler",
    "Runtime",
    "MemorySize",
    "Timeout",
    "Environment",
    "Description",
    "Layers",
    "AutoPublishAlias",
    "VersionDescription",
    "SnapStart",
    "Events",
    "FunctionUrlConfig",
    "EventInvokeConfig",
)
SAM_NOT_YET = {
    "DeploymentPreference": (
        "DeploymentPreference is ignored: the alias moves to the new version at once"
    ),
}
# Read by SAM for what gureum does anyway (a version is published whenever anything changed).
SAM_SILENT = (
    "FunctionName",
    "Role",
    "Policies",
    "Architectures",
    "Tags",
    "AutoPublishAliasAllProperties",
    "AutoPublishCodeSha256",
)
SAM_LAYER_READ = ("LayerName", "ContentUri", "CompatibleRuntimes", "Description", "LicenseInfo")
SAM_LAYER_SILENT = ("RetentionPolicy", "CompatibleArchitectures")


def load_template(template: Path, name: str | None = None, stack: str | None = None) -> Deployment:
    """Every AWS::Serverless::LayerVersion and AWS::Serverless::Function of a SAM template, the
    Globals merged under each function's own Properties; CodeUri and ContentUri are relative to
    the template's folder. ``stack`` names the deployment (default: the template's folder)."""
    source = template.name
    document = values.mapping(values.read_yaml(template, TemplateLoader), source, "the template")
    resolver = Resolver(source, parameter_defaults(source, document))
    resources = {
        logical_id: values.mapping(resource, f"{source}: Resources.{logical_id}", "a resource")
        for logical_id, resource in values.mapping(
            document.get("Resources"), f"{source}: Resources", "Resources"
        ).items()
    }
    function_globals = _function_globals(source, document)

    def properties_of(logical_id: str, inherited: Mapping[str, Any]) -> Properties:
        where = f"Resources.{logical_id}.Properties"
        own = values.mapping(
            resources[logical_id].get("Properties"),
            f"{source}: {where}",
            "Properties",
            optional=True,
        )
        return Properties(merge_globals(inherited, own), resolver, where)

    warnings: list[str] = []
    layers: list[LayerSpec] = []
    # Layers first: a function's Layers may !Ref any of them, wherever it stands.
    for logical_id, resource in resources.items():
        if resource.get("Type") == SAM_LAYER:
            properties = properties_of(logical_id, {})
            layer, notes = _sam_layer(
                template.parent, logical_id, properties, resource.get("Metadata")
            )
            layers.append(layer)
            warnings += [f"{logical_id}: {note}" for note in notes]
    resolver.layers = {layer.logical_id: layer for layer in layers}
    resolver.functions = {
        logical_id: _function_name(logical_id, properties_of(logical_id, {}))
        for logical_id, resource in resources.items()
        if resource.get("Type") == SAM_FUNCTION
    }
    buckets, queues = _buckets_and_queues(resources, resolver, properties_of, warnings)
    specs: list[FunctionSpec] = []
    skipped: list[str] = []
    for logical_id, resource in resources.items():
        if resource.get("Type") in (aws.S3_BUCKET, aws.SQS_QUEUE):
            continue
        if resource.get("Type") == SAM_FUNCTION:
            properties = properties_of(logical_id, function_globals)
            spec, notes = _sam_function(template.parent, logical_id, properties)
            specs.append(spec)
            warnings += [f"{logical_id}: {note}" for note in notes]
        elif resource.get("Type") != SAM_LAYER:
            skipped.append(f"{logical_id} ({resource.get('Type')})")
    if skipped:
        warnings.append(
            f"only {SAM_FUNCTION}, {SAM_LAYER}, {aws.S3_BUCKET} and {aws.SQS_QUEUE} resources "
            "are deployed; "
            f"ignoring {', '.join(skipped)}"
        )
    if not specs and not layers:
        raise ManifestError(f"{source}: Resources", f"no {SAM_FUNCTION} or {SAM_LAYER} to deploy")
    if name is not None:
        if len(specs) != 1:
            raise ManifestError(
                f"{source}: Resources",
                f"--name renames a single function; this template has {len(specs)}",
            )
        specs[0] = dataclasses.replace(
            specs[0], name=values.checked(f"{source}: name", validate_function_name, name)
        )
    stack = stack or default_stack(template.parent)
    deployment = Deployment(
        specs, warnings, template, layers, values.checked("--stack", _stack, stack)
    )
    deployment.buckets, deployment.queues = buckets, queues
    return deployment


def _buckets_and_queues(
    resources: dict[str, dict[str, Any]],
    resolver: Resolver,
    properties_of: Callable[[str, Mapping[str, Any]], Properties],
    warnings: list[str],
) -> tuple[list[BucketSpec], list[QueueSpec]]:
    """The template's buckets and queues, dead-letter queues before the queues that use them.
    Their names are known first, so that any property may refer to any of them."""
    kinds = {aws.S3_BUCKET: resolver.buckets, aws.SQS_QUEUE: resolver.queues}
    for logical_id, resource in resources.items():
        names = kinds.get(resource.get("Type", ""))
        if names is not None:
            key = "BucketName" if resource["Type"] == aws.S3_BUCKET else "QueueName"
            default = logical_id.lower() if key == "BucketName" else logical_id
            names[logical_id] = properties_of(logical_id, {}).get(key, values.string, default)
    buckets, queues = [], []
    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        if kind not in kinds:
            continue
        properties = properties_of(logical_id, {})
        if kind == aws.S3_BUCKET:
            buckets.append(aws.bucket(logical_id, properties.get))
            known: tuple[str, ...] = ("BucketName",)
        else:
            queues.append(aws.queue(logical_id, properties.get))
            known = ("QueueName", "RedrivePolicy", *aws.QUEUE_ATTRIBUTES)
        ignored = properties.unread(*known, "Tags")
        if ignored:
            warnings.append(f"{logical_id}: ignoring {', '.join(ignored)} (not used by gureum)")
    ordered: list[QueueSpec] = []
    while queues:  # each pass takes the queues whose dead-letter queue is already placed
        placed = {q.name for q in ordered}
        ready = [q for q in queues if q.dead_letter is None or q.dead_letter.name in placed]
        if not ready:
            raise ManifestError(resolver.source, "queues' RedrivePolicy form a cycle")
        ordered += ready
        queues = [q for q in queues if q not in ready]
    return buckets, ordered


def default_stack(folder: Path) -> str:
    """A stack name made from a folder's name, as `sam deploy` would suggest one."""
    name = "".join(c if c.isalnum() or c == "-" else "-" for c in folder.resolve().name)
    return name.strip("-")[:64] or "stack"


def _stack(name: str) -> str:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_" for c in name):
        raise InvalidParameterValueException(
            f"stack name {name!r}: 1-64 letters, digits, '-' or '_'"
        )
    return name


def _function_name(logical_id: str, properties: Properties) -> str:
    return properties.get("FunctionName", values.function_name, logical_id)


def _function_globals(source: str, document: dict[str, Any]) -> dict[str, Any]:
    """``Globals: Function:``, what every function inherits (SAM has no globals for layers)."""
    globals_section = values.mapping(
        document.get("Globals"), f"{source}: Globals", "Globals", optional=True
    )
    return values.mapping(
        globals_section.get("Function"),
        f"{source}: Globals.Function",
        "Globals.Function",
        optional=True,
    )


def merge_globals(globals_: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's rules: a function's own value wins; maps merge key by key; lists are concatenated
    (the globals' items first)."""
    merged = dict(globals_)
    for key, value in own.items():
        inherited = merged.get(key)
        if isinstance(inherited, dict) and isinstance(value, dict):
            merged[key] = merge_globals(inherited, value)
        elif isinstance(inherited, list) and isinstance(value, list):
            merged[key] = inherited + value
        else:
            merged[key] = value
    return merged


@dataclass(frozen=True, slots=True)
class Properties:
    """A resource's Properties, read one at a time: intrinsics resolved, each value checked,
    and a failure naming ``where`` (``Resources.X.Properties``) and the key."""

    values: dict[str, Any]
    resolver: Resolver
    where: str

    def at(self, key: str = "") -> str:
        return f"{self.resolver.source}: {self.where}" + (f".{key}" if key else "")

    def get(self, key: str, kind: Callable[[str, Any], T], default: T) -> T:
        if key not in self.values:
            return default
        return kind(self.at(key), self.resolver.resolve(self.values[key], self.at(key)))

    def required(self, key: str, kind: Callable[[str, Any], str]) -> str:
        if key not in self.values:
            raise ManifestError(self.at(key), "required")
        return self.get(key, kind, "")

    def unread(self, *known: str) -> list[str]:
        return [k for k in self.values if k not in known]


def _sam_function(
    base: Path, logical_id: str, properties: Properties
) -> tuple[FunctionSpec, list[str]]:
    if "InlineCode" in properties.values or properties.values.get("PackageType") == "Image":
        raise ManifestError(properties.at(), "only CodeUri (a local folder) is supported for code")
    notes = [note for key, note in SAM_NOT_YET.items() if key in properties.values]
    ignored = properties.unread(*SAM_READ, *SAM_NOT_YET, *SAM_SILENT)
    if ignored:
        notes.append(f"ignoring {', '.join(ignored)} (not used by gureum)")
    code_uri = properties.get("CodeUri", _code_uri, ".")
    code_dir = (base / code_uri).resolve()
    if not code_dir.is_dir():
        raise ManifestError(properties.at("CodeUri"), f"{code_uri!r} is not a folder next to it")
    get = properties.get
    _drop_api_ids(properties.values.get("Events"))
    events = get(
        "Events",
        lambda where, value: triggers.sam_events(
            where, value, logical_id, properties.resolver.buckets
        ),
        triggers.SamEvents(),
    )
    notes += events.notes
    spec = FunctionSpec(
        name=_function_name(logical_id, properties),
        code_dir=code_dir,
        runtime=properties.required("Runtime", values.string),
        handler=properties.required("Handler", values.handler),
        memory_mb=get("MemorySize", _sam_number(values.memory), 128),
        timeout_s=get("Timeout", _sam_number(values.timeout), 3),
        env=get("Environment", _sam_environment, {}),
        description=get("Description", values.description, ""),
        layers=tuple(get("Layers", _sam_layers, [])),
        alias=get("AutoPublishAlias", values.alias, None),
        version_description=get("VersionDescription", values.description, None),
        snap_start=get("SnapStart", _sam_snap_start, "None"),
        schedules=tuple(events.schedules),
        routes=tuple(events.routes),
        s3_events=tuple(events.s3),
        sqs_events=tuple(events.sqs),
        url=get("FunctionUrlConfig", triggers.sam_url, None),
        event_invoke=get("EventInvokeConfig", triggers.sam_event_invoke, None),
    )
    return spec, notes


def _drop_api_ids(events: Any) -> None:
    """An Api/HttpApi event's RestApiId/ApiId (``!Ref MyApi``) names an API resource gureum
    does not create: it has one HTTP listener, so the reference is dropped, not resolved."""
    if not isinstance(events, dict):
        return
    for event in events.values():
        properties = event.get("Properties") if isinstance(event, dict) else None
        if isinstance(properties, dict) and event.get("Type") in ("Api", "HttpApi"):
            properties.pop("RestApiId", None)
            properties.pop("ApiId", None)


def _sam_layer(
    base: Path, logical_id: str, properties: Properties, metadata: Any
) -> tuple[LayerSpec, list[str]]:
    """An AWS::Serverless::LayerVersion: named after its logical id unless LayerName says."""
    notes = []
    ignored = properties.unread(*SAM_LAYER_READ, *SAM_LAYER_SILENT)
    if ignored:
        notes.append(f"ignoring {', '.join(ignored)} (not used by gureum)")
    build_method = metadata.get("BuildMethod") if isinstance(metadata, dict) else None
    python_build = isinstance(build_method, str) and build_method.startswith("python")
    if build_method is not None and not python_build:
        notes.append(
            f"Metadata.BuildMethod {build_method} is not run: ContentUri is published as it is"
        )
    content_uri = properties.required("ContentUri", _code_uri)
    content = (base / content_uri).resolve()
    if not content.is_dir() and not (content.is_file() and content.suffix == ".zip"):
        raise ManifestError(
            properties.at("ContentUri"),
            f"{content_uri!r} is not a folder or a .zip file next to it",
        )
    get = properties.get
    layer = LayerSpec(
        logical_id=logical_id,
        name=get("LayerName", values.layer_name, logical_id),
        content=content,
        description=get("Description", values.description, ""),
        runtimes=tuple(get("CompatibleRuntimes", values.string_list, [])),
        license_info=get("LicenseInfo", values.string, None),
        python_build=python_build and content.is_dir(),
    )
    return layer, notes


def _sam_number(kind: Callable[[str, int], int]) -> Callable[[str, Any], int]:
    """CloudFormation passes numbers through !Ref as strings: accept "512" as well as 512."""

    def convert(where: str, value: Any) -> int:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        return kind(where, value)

    return convert


def _sam_environment(where: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) - {"Variables"}:
        raise ManifestError(where, "expected a mapping with Variables")
    return values.env(f"{where}.Variables", value.get("Variables") or {})


def _sam_snap_start(where: str, value: Any) -> str:
    """SAM's ``SnapStart: {ApplyOn: PublishedVersions}``."""
    if not isinstance(value, dict) or set(value) != {"ApplyOn"}:
        raise ManifestError(where, "expected a mapping with ApplyOn")
    return values.snap_start(f"{where}.ApplyOn", value["ApplyOn"])


def _sam_layers(where: str, value: Any) -> list[str | LayerSpec]:
    """SAM's ``Layers``: ARNs, or ``!Ref`` of the template's own LayerVersion resources."""
    if not isinstance(value, list):
        raise ManifestError(
            where, f"expected a list of layer version ARNs, got {values.shown(value)}"
        )
    layers: list[str | LayerSpec] = [
        item if isinstance(item, LayerSpec) else values.layer_arn(f"{where}[{i}]", item)
        for i, item in enumerate(value)
    ]
    return values.within_layer_limit(where, layers)


def _code_uri(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ManifestError(
            where,
            "expected a local folder (code in S3 is not supported), got " + values.shown(value),
        )
    return value
