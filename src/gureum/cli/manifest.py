"""What `gureum deploy` deploys: read from a folder's ``gureum.yaml`` or from a SAM template.

Both end as a list of FunctionSpec, plus warnings for what was understood but not acted on (SAM's
Layers, AutoPublishAlias, Events). Anything wrong raises ManifestError naming the file and the
field, so the user can find it; nothing here talks to a server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml  # type: ignore[import-untyped]

from ..errors import GureumError
from ..sandbox.runtimes import host_runtime
from ..validation import (
    validate_description,
    validate_env,
    validate_function_name,
    validate_handler,
    validate_memory,
    validate_timeout,
)

MANIFEST_NAMES = ("gureum.yaml", "gureum.yml")
TEMPLATE_NAMES = ("template.yaml", "template.yml")
SAM_FUNCTION = "AWS::Serverless::Function"
DEFAULT_HANDLER = "app.handler"

T = TypeVar("T")


class ManifestError(Exception):
    """A manifest or template that cannot be deployed: ``where`` names the file and the field."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


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


@dataclass(slots=True)
class Deployment:
    functions: list[FunctionSpec]
    warnings: list[str] = field(default_factory=list)
    source: Path | None = None  # the gureum.yaml or template read, if any


def load(path: Path, name: str | None = None) -> Deployment:
    """Whatever ``path`` is: a folder (with or without gureum.yaml), a gureum.yaml, a SAM template
    or a folder holding one. ``name`` renames the function (only if there is exactly one)."""
    if path.is_file():
        if path.name in MANIFEST_NAMES:
            return load_folder(path.parent, name, manifest=path)
        return load_template(path, name)
    if not path.is_dir():
        raise ManifestError(str(path), "no such file or folder")
    manifests = [path / n for n in MANIFEST_NAMES if (path / n).is_file()]
    templates = [path / n for n in TEMPLATE_NAMES if (path / n).is_file()]
    if manifests and templates:
        raise ManifestError(
            str(path),
            f"has both {manifests[0].name} and {templates[0].name}: pass the one to deploy",
        )
    if templates:
        return load_template(templates[0], name)
    return load_folder(path, name, manifest=manifests[0] if manifests else None)


# --- gureum.yaml -----------------------------------------------------------------------------

MANIFEST_KEYS = ("name", "runtime", "handler", "memory", "timeout", "env", "description", "layers")


def default_name(folder: Path) -> str:
    """A function name made from a folder's name: anything Lambda refuses becomes '-'."""
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in folder.resolve().name)
    return name[:64] or "function"


def load_folder(folder: Path, name: str | None = None, manifest: Path | None = None) -> Deployment:
    """A folder of handler code, described by ``manifest`` (its gureum.yaml) if there is one."""
    document: dict[str, Any] = {}
    if manifest is not None:
        document = _mapping(
            _read_yaml(manifest, yaml.SafeLoader), manifest.name, "the file", optional=True
        )
        unknown = [key for key in document if key not in MANIFEST_KEYS]
        if unknown:
            raise ManifestError(
                f"{manifest.name}: {unknown[0]}",
                f"unknown key (known: {', '.join(MANIFEST_KEYS)})",
            )
    where = manifest.name if manifest is not None else "gureum.yaml"

    def get(key: str, kind: Callable[[str, Any], T], default: T) -> T:
        return kind(f"{where}: {key}", document[key]) if key in document else default

    warnings = []
    layers: list[str] = get("layers", _string_list, [])
    if layers:
        warnings.append(f"{where}: layers are not supported yet; deploying without them")
    spec = FunctionSpec(
        name=_checked(f"{where}: name", validate_function_name, name)
        if name
        else get("name", _name, default_name(folder)),
        code_dir=folder,
        runtime=get("runtime", _string, host_runtime()),
        handler=get("handler", _handler, DEFAULT_HANDLER),
        memory_mb=get("memory", _memory, 128),
        timeout_s=get("timeout", _timeout, 3),
        env=get("env", _env, {}),
        description=get("description", _description, ""),
    )
    return Deployment([spec], warnings, manifest)


# --- SAM templates ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Intrinsic:
    """A CloudFormation intrinsic function (``!Ref X`` or ``{"Ref": "X"}``), still unresolved."""

    name: str  # "Ref", "Fn::Sub", "Fn::GetAtt", ...
    value: Any


class TemplateLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML is untyped
    """Safe YAML that also reads CloudFormation's short-form tags (``!Ref``, ``!Sub``, ...)."""


def _construct_intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Intrinsic:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt":  # !GetAtt A.B is the short form of [A, B]
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return Intrinsic(name, value)


TemplateLoader.add_multi_constructor("!", _construct_intrinsic)

# What gureum reads from a function's Properties; SAM's other properties are reported as ignored.
SAM_READ = ("CodeUri", "Handler", "Runtime", "MemorySize", "Timeout", "Environment", "Description")
SAM_NOT_YET = {
    "Layers": "layers are not supported yet; deploying without them",
    "AutoPublishAlias": "versions and aliases are not supported yet; deploying $LATEST only",
    "Events": "Events are ignored (event sources come later); invoke the function directly",
}
SAM_SILENT = ("FunctionName", "Role", "Policies", "Architectures", "Tags")


def load_template(template: Path, name: str | None = None) -> Deployment:
    """Every AWS::Serverless::Function of a SAM template, its Globals merged under its own
    Properties; CodeUri folders are relative to the template's folder."""
    source = template.name
    document = _mapping(_read_yaml(template, TemplateLoader), source, "the template")
    resolver = Resolver(source, _parameter_defaults(source, document))
    resources = _mapping(document.get("Resources"), f"{source}: Resources", "Resources")
    globals_section = _mapping(
        document.get("Globals"), f"{source}: Globals", "Globals", optional=True
    )
    function_globals = _mapping(
        globals_section.get("Function"),
        f"{source}: Globals.Function",
        "Globals.Function",
        optional=True,
    )
    specs: list[FunctionSpec] = []
    warnings: list[str] = []
    skipped: list[str] = []
    for logical_id, resource in resources.items():
        resource = _mapping(resource, f"{source}: Resources.{logical_id}", "a resource")
        if resource.get("Type") != SAM_FUNCTION:
            skipped.append(f"{logical_id} ({resource.get('Type')})")
            continue
        where = f"Resources.{logical_id}.Properties"
        own = _mapping(
            resource.get("Properties"), f"{source}: {where}", "Properties", optional=True
        )
        properties = merge_globals(function_globals, own)
        spec, notes = _sam_function(template.parent, logical_id, properties, resolver, where)
        specs.append(spec)
        warnings += [f"{logical_id}: {note}" for note in notes]
    if skipped:
        warnings.append(
            f"only {SAM_FUNCTION} resources are deployed; ignoring {', '.join(skipped)}"
        )
    if not specs:
        raise ManifestError(f"{source}: Resources", f"no {SAM_FUNCTION} to deploy")
    if name is not None:
        if len(specs) > 1:
            raise ManifestError(
                f"{source}: Resources",
                f"--name renames a single function; this template has {len(specs)}",
            )
        specs[0] = _replace_name(
            specs[0], _checked(f"{source}: name", validate_function_name, name)
        )
    return Deployment(specs, warnings, template)


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


def _sam_function(
    base: Path, logical_id: str, properties: dict[str, Any], resolver: Resolver, where: str
) -> tuple[FunctionSpec, list[str]]:
    def get(key: str, kind: Callable[[str, Any], T], default: T) -> T:
        if key not in properties:
            return default
        at = f"{resolver.source}: {where}.{key}"
        return kind(at, resolver.resolve(properties[key], at))

    def required(key: str, kind: Callable[[str, Any], str]) -> str:
        if key not in properties:
            raise ManifestError(f"{resolver.source}: {where}.{key}", "required")
        return get(key, kind, "")

    if "InlineCode" in properties or properties.get("PackageType") == "Image":
        raise ManifestError(
            f"{resolver.source}: {where}", "only CodeUri (a local folder) is supported for code"
        )
    notes = [note for key, note in SAM_NOT_YET.items() if key in properties]
    ignored = [k for k in properties if k not in (*SAM_READ, *SAM_NOT_YET, *SAM_SILENT)]
    if ignored:
        notes.append(f"ignoring {', '.join(ignored)} (not used by gureum)")
    code_uri = get("CodeUri", _code_uri, ".")
    code_dir = (base / code_uri).resolve()
    if not code_dir.is_dir():
        raise ManifestError(
            f"{resolver.source}: {where}.CodeUri", f"{code_uri!r} is not a folder next to it"
        )
    spec = FunctionSpec(
        name=get("FunctionName", _name, logical_id),
        code_dir=code_dir,
        runtime=required("Runtime", _string),
        handler=required("Handler", _handler),
        memory_mb=get("MemorySize", _sam_number(_memory), 128),
        timeout_s=get("Timeout", _sam_number(_timeout), 3),
        env=get("Environment", _sam_environment, {}),
        description=get("Description", _description, ""),
    )
    return spec, notes


class Resolver:
    """Resolves ``!Ref`` (and ``!Sub``) of Parameters that have a Default; refuses the rest."""

    def __init__(self, source: str, parameters: dict[str, Any]) -> None:
        self.source = source
        self.parameters = parameters

    def resolve(self, value: Any, where: str) -> Any:
        intrinsic = _as_intrinsic(value)
        if intrinsic is not None:
            return self._intrinsic(intrinsic, where)
        if isinstance(value, dict):
            return {k: self.resolve(v, f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return value

    def _intrinsic(self, intrinsic: Intrinsic, where: str) -> Any:
        if intrinsic.name == "Ref" and isinstance(intrinsic.value, str):
            return self._parameter(intrinsic.value, where)
        if intrinsic.name == "Fn::Sub":
            return self._sub(intrinsic.value, where)
        short = intrinsic.name.removeprefix("Fn::")
        raise ManifestError(
            where,
            f"!{short} is not supported: gureum resolves only !Ref and !Sub of Parameters that "
            "have a Default",
        )

    def _parameter(self, name: str, where: str) -> Any:
        if name not in self.parameters:
            raise ManifestError(
                where,
                f"!Ref {name}: gureum resolves only Parameters that have a Default "
                "(not resources or pseudo parameters)",
            )
        return self.parameters[name]

    def _sub(self, value: Any, where: str) -> str:
        variables: dict[str, Any] = {}
        if isinstance(value, list) and len(value) == 2 and isinstance(value[1], dict):
            value, given = value
            variables = {k: self.resolve(v, f"{where}.{k}") for k, v in given.items()}
        if not isinstance(value, str):
            raise ManifestError(where, "!Sub takes a string, or [string, {variables}]")

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is written out as ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                return _scalar_text(where, variables[name])
            return _scalar_text(where, self._parameter(name, where))

        return re.sub(r"\$\{([^}]*)\}", substitute, value)


def _as_intrinsic(value: Any) -> Intrinsic | None:
    if isinstance(value, Intrinsic):
        return value
    # The long form: a map with one key, "Ref" or "Fn::Something".
    if isinstance(value, dict) and len(value) == 1:
        (key, inner), *_ = value.items()
        if key == "Ref" or (isinstance(key, str) and key.startswith("Fn::")):
            return Intrinsic(key, inner)
    return None


def _parameter_defaults(source: str, document: dict[str, Any]) -> dict[str, Any]:
    parameters = _mapping(
        document.get("Parameters"), f"{source}: Parameters", "Parameters", optional=True
    )
    defaults = {}
    for name, parameter in parameters.items():
        if isinstance(parameter, dict) and "Default" in parameter:
            defaults[name] = parameter["Default"]
    return defaults


def _replace_name(spec: FunctionSpec, name: str) -> FunctionSpec:
    return FunctionSpec(
        name=name,
        code_dir=spec.code_dir,
        runtime=spec.runtime,
        handler=spec.handler,
        memory_mb=spec.memory_mb,
        timeout_s=spec.timeout_s,
        env=spec.env,
        description=spec.description,
    )


# --- reading and checking values -------------------------------------------------------------


def _read_yaml(path: Path, loader: type[yaml.SafeLoader]) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except yaml.YAMLError as exc:
        raise ManifestError(path.name, f"not valid YAML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(path.name, f"cannot be read: {exc}") from exc


def _mapping(value: Any, where: str, what: str, *, optional: bool = False) -> dict[str, Any]:
    """``value`` if it is a mapping; None counts as an empty one where the key is optional."""
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise ManifestError(where, f"expected {what} to be a mapping, got {_shown(value)}")
    return value


def _shown(value: Any) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"


def _checked(where: str, check: Callable[[T], T], value: T) -> T:
    """Run one of gureum.validation's checks, naming the manifest's field on failure."""
    try:
        return check(value)
    except GureumError as exc:
        raise ManifestError(where, exc.message) from exc


def _string(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ManifestError(where, f"expected a non-empty string, got {_shown(value)}")
    return value


def _integer(where: str, value: Any) -> int:
    # bool is an int to Python, but `memory: yes` is a mistake, not 1 MB.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ManifestError(where, f"expected an integer, got {_shown(value)}")
    return value


def _sam_number(kind: Callable[[str, int], int]) -> Callable[[str, Any], int]:
    """CloudFormation passes numbers through !Ref as strings: accept "512" as well as 512."""

    def convert(where: str, value: Any) -> int:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        return kind(where, value)

    return convert


def _name(where: str, value: Any) -> str:
    return _checked(where, validate_function_name, _string(where, value))


def _handler(where: str, value: Any) -> str:
    return _checked(where, validate_handler, _string(where, value))


def _memory(where: str, value: Any) -> int:
    return _checked(where, validate_memory, _integer(where, value))


def _timeout(where: str, value: Any) -> int:
    return _checked(where, validate_timeout, _integer(where, value))


def _description(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ManifestError(where, f"expected a string, got {_shown(value)}")
    return _checked(where, validate_description, value)


def _scalar_text(where: str, value: Any) -> str:
    """An environment value as Lambda keeps it: a string (numbers and booleans spelled out)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ManifestError(where, f"expected a string or a number, got {_shown(value)}")


def _env(where: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ManifestError(where, f"expected a mapping of NAME: value, got {_shown(value)}")
    env = {str(k): _scalar_text(f"{where}.{k}", v) for k, v in value.items()}
    return _checked(where, validate_env, env)


def _sam_environment(where: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) - {"Variables"}:
        raise ManifestError(where, "expected a mapping with Variables")
    return _env(f"{where}.Variables", value.get("Variables") or {})


def _string_list(where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(where, f"expected a list of strings, got {_shown(value)}")
    return value


def _code_uri(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ManifestError(
            where, "expected a local folder (code in S3 is not supported), got " + _shown(value)
        )
    return value
