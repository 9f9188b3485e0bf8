"""CloudFormation's intrinsic functions in a template: read from YAML (``!Ref``, ``!Sub``, ...),
kept unresolved, then resolved where gureum can (Parameters' defaults, the template's layers)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml  # type: ignore[import-untyped]

from . import values
from .specs import FunctionRef, LayerSpec, ManifestError, QueueRef


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


class Resolver:
    """Resolves ``!Ref`` (and ``!Sub``) of Parameters that have a Default, and ``!Ref`` of the
    template's layers (to their LayerSpec); refuses the rest."""

    def __init__(self, source: str, parameters: dict[str, Any]) -> None:
        self.source = source
        self.parameters = parameters
        self.layers: dict[str, LayerSpec] = {}
        self.functions: dict[str, str] = {}  # the template's functions: logical id -> name
        self.buckets: dict[str, str] = {}  # logical id -> bucket name
        self.queues: dict[str, str] = {}  # logical id -> queue name
        # What a queue's URL starts with (the deploy's endpoint; gureum takes any URL whose
        # last segment is the name, as the function's boto3 sends it to its own endpoint).
        self.queue_url_base = "http://127.0.0.1:9000/000000000000"

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
            if intrinsic.value in self.layers:
                return self.layers[intrinsic.value]
            if intrinsic.value in self.functions:  # CloudFormation: a function's Ref is its name
                return self.functions[intrinsic.value]
            if intrinsic.value in self.buckets:
                return self.buckets[intrinsic.value]
            if intrinsic.value in self.queues:  # a queue's Ref is its URL
                return f"{self.queue_url_base}/{self.queues[intrinsic.value]}"
            return self._parameter(intrinsic.value, where)
        if intrinsic.name == "Fn::GetAtt":
            attribute = self._attribute(intrinsic.value)
            if attribute is not None:
                return attribute
        if intrinsic.name == "Fn::Sub":
            return self._sub(intrinsic.value, where)
        short = intrinsic.name.removeprefix("Fn::")
        raise ManifestError(
            where,
            f"!{short} is not supported: gureum resolves only !Ref and !Sub of Parameters that "
            "have a Default, and !GetAtt of the template's functions (Arn), buckets (Arn) and "
            "queues (Arn, QueueName, QueueUrl)",
        )

    def _attribute(self, value: Any) -> Any:
        """``!GetAtt X.Attr`` of the template's functions, buckets and queues, or None."""
        if not (isinstance(value, list) and len(value) == 2):
            return None
        logical_id, attribute = value
        if logical_id in self.functions and attribute == "Arn":
            return FunctionRef(self.functions[logical_id])
        if logical_id in self.buckets and attribute == "Arn":
            return f"arn:aws:s3:::{self.buckets[logical_id]}"
        if logical_id in self.queues:
            name = self.queues[logical_id]
            return {
                "Arn": QueueRef(name),
                "QueueName": name,
                "QueueUrl": f"{self.queue_url_base}/{name}",
            }.get(attribute)
        return None

    def _parameter(self, name: str, where: str) -> Any:
        if name not in self.parameters:
            raise ManifestError(
                where,
                f"!Ref {name}: gureum resolves only Parameters that have a Default and "
                "AWS::Serverless::LayerVersion resources (not other resources or pseudo "
                "parameters)",
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
                return values.scalar_text(where, variables[name])
            return values.scalar_text(where, self._parameter(name, where))

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


def parameter_defaults(source: str, document: dict[str, Any]) -> dict[str, Any]:
    parameters = values.mapping(
        document.get("Parameters"), f"{source}: Parameters", "Parameters", optional=True
    )
    defaults = {}
    for name, parameter in parameters.items():
        if isinstance(parameter, dict) and "Default" in parameter:
            defaults[name] = parameter["Default"]
    return defaults
