"""What `gureum deploy` deploys: read from a folder's ``gureum.yaml`` or from a SAM template.

Both end as a Deployment: FunctionSpecs (and, from a template, the LayerSpecs of its
``AWS::Serverless::LayerVersion`` resources), each with its schedules, routes, URL and async
settings, plus warnings for what was understood but not acted on (SAM's DeploymentPreference, for
one). Anything wrong raises ManifestError naming the file and the field, so the user can find it;
nothing here talks to a server.

- ``specs``: Deployment, FunctionSpec, LayerSpec and ManifestError;
- ``folder``: a folder of handler code and its gureum.yaml;
- ``sam``: SAM templates, and ``intrinsics``: their ``!Ref`` and ``!Sub``;
- ``triggers``: schedules, routes, function URLs and async settings, in either form;
- ``values``: reading and checking each value.
"""

from __future__ import annotations

from pathlib import Path

from .folder import MANIFEST_NAMES, load_folder
from .sam import TEMPLATE_NAMES, load_template, merge_globals
from .specs import (
    Deployment,
    EventInvokeSpec,
    FunctionRef,
    FunctionSpec,
    LayerSpec,
    ManifestError,
    RouteSpec,
    ScheduleSpec,
    UrlSpec,
)

__all__ = [
    "Deployment",
    "EventInvokeSpec",
    "FunctionRef",
    "FunctionSpec",
    "LayerSpec",
    "ManifestError",
    "RouteSpec",
    "ScheduleSpec",
    "UrlSpec",
    "load",
    "load_folder",
    "load_template",
    "merge_globals",
]


def load(path: Path, name: str | None = None, stack: str | None = None) -> Deployment:
    """Whatever ``path`` is: a folder (with or without gureum.yaml), a gureum.yaml, a SAM template
    or a folder holding one. ``name`` renames the function (only if there is exactly one);
    ``stack`` names a template's deployment (a folder's is its function's name)."""
    if path.is_file():
        if path.name in MANIFEST_NAMES:
            return load_folder(path.parent, name, manifest=path)
        return load_template(path, name, stack)
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
        return load_template(templates[0], name, stack)
    return load_folder(path, name, manifest=manifests[0] if manifests else None)
