"""A folder of handler code, described by its gureum.yaml if it has one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from ...sandbox.runtimes import host_runtime
from ...validation import validate_function_name
from . import triggers, values
from .specs import DEFAULT_HANDLER, Deployment, FunctionSpec, ManifestError
from .values import T

MANIFEST_NAMES = ("gureum.yaml", "gureum.yml")
MANIFEST_KEYS = (
    "name",
    "runtime",
    "handler",
    "memory",
    "timeout",
    "env",
    "description",
    "layers",
    "alias",
    "snap_start",
    "schedules",
    "routes",
    "url",
    "async",
)


def default_name(folder: Path) -> str:
    """A function name made from a folder's name: anything Lambda refuses becomes '-'."""
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in folder.resolve().name)
    return name[:64] or "function"


def load_folder(folder: Path, name: str | None = None, manifest: Path | None = None) -> Deployment:
    """A folder of handler code, described by ``manifest`` (its gureum.yaml) if there is one."""
    document: dict[str, Any] = {}
    if manifest is not None:
        document = values.mapping(
            values.read_yaml(manifest, yaml.SafeLoader), manifest.name, "the file", optional=True
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

    spec = FunctionSpec(
        name=values.checked(f"{where}: name", validate_function_name, name)
        if name
        else get("name", values.function_name, default_name(folder)),
        code_dir=folder,
        runtime=get("runtime", values.string, host_runtime()),
        handler=get("handler", values.handler, DEFAULT_HANDLER),
        memory_mb=get("memory", values.memory, 128),
        timeout_s=get("timeout", values.timeout, 3),
        env=get("env", values.env, {}),
        description=get("description", values.description, ""),
        layers=tuple(get("layers", values.layer_arns, [])),
        alias=get("alias", values.alias, None),
        snap_start=get("snap_start", values.gureum_snap_start, "None"),
        schedules=tuple(get("schedules", triggers.short_schedules, [])),
        routes=tuple(get("routes", triggers.short_routes, [])),
        url=get("url", triggers.short_url, None),
        event_invoke=get("async", triggers.short_async, None),
    )
    # A folder is one function: it owns its routes and its schedule group, under its name.
    return Deployment([spec], [], manifest, stack=spec.name)
