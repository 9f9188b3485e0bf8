"""Reading what `gureum deploy` deploys: gureum.yaml, SAM templates, Globals and intrinsics."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gureum.cli.manifest import (
    FunctionSpec,
    LayerSpec,
    ManifestError,
    load,
    load_template,
    merge_globals,
)
from tests.conftest import HOST_RUNTIME


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return folder


def only(folder: Path, name: str | None = None) -> FunctionSpec:
    (spec,) = load(folder, name).functions
    return spec


# --- folders and gureum.yaml -----------------------------------------------------------------


def test_a_plain_folder_gets_the_defaults(tmp_path: Path) -> None:
    folder = write(tmp_path / "my func.v2", {"app.py": ""})
    deployment = load(folder)
    assert deployment.source is None and deployment.warnings == []
    (spec,) = deployment.functions
    assert spec == FunctionSpec(name="my-func-v2", code_dir=folder, runtime=HOST_RUNTIME)
    assert (spec.handler, spec.memory_mb, spec.timeout_s) == ("app.handler", 128, 3)


LAYER_1 = "arn:aws:lambda:us-east-1:000000000000:layer:base:1"
LAYER_2 = "arn:aws:lambda:eu-west-1:123456789012:layer:extra_2:14"


def test_gureum_yaml_sets_every_field(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "gureum.yaml": f"""
                name: orders
                runtime: python3.12
                handler: pkg.api.handle
                memory: 512
                timeout: 30
                description: Takes orders
                env:
                  TABLE: orders
                  RETRIES: 3
                  RATIO: 0.5
                  DEBUG: true
                layers:
                  - {LAYER_1}
                  - {LAYER_2}
                alias: live
                snap_start: PublishedVersions
            """
        },
    )
    spec = only(tmp_path)
    assert spec.snap_start == "PublishedVersions"
    assert spec.name == "orders" and spec.runtime == "python3.12"
    assert spec.handler == "pkg.api.handle" and spec.description == "Takes orders"
    assert (spec.memory_mb, spec.timeout_s) == (512, 30)
    # Lambda keeps strings: numbers and booleans are spelled out as YAML wrote them.
    assert spec.env == {"TABLE": "orders", "RETRIES": "3", "RATIO": "0.5", "DEBUG": "true"}
    # Unpacked at /opt in this order; a version is published and "live" pointed at it.
    assert spec.layers == (LAYER_1, LAYER_2) and spec.alias == "live"


def test_name_option_wins_over_the_manifest(tmp_path: Path) -> None:
    write(tmp_path, {"gureum.yaml": "name: from-file\n"})
    assert only(tmp_path, "from-flag").name == "from-flag"
    with pytest.raises(ManifestError, match=r"name: .*functionName"):
        load(tmp_path, "bad name!")


def test_an_empty_gureum_yaml_is_all_defaults(tmp_path: Path) -> None:
    write(tmp_path, {"gureum.yaml": "# nothing yet\n"})
    assert only(tmp_path).handler == "app.handler"


def test_gureum_yaml_can_be_passed_itself(tmp_path: Path) -> None:
    write(tmp_path, {"gureum.yaml": "name: direct\n"})
    deployment = load(tmp_path / "gureum.yaml")
    assert deployment.functions[0].name == "direct"
    assert deployment.functions[0].code_dir == tmp_path


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("memory: lots\n", "gureum.yaml: memory", "expected an integer, got str 'lots'"),
        ("memory: true\n", "gureum.yaml: memory", "expected an integer, got bool True"),
        ("memory: 64\n", "gureum.yaml: memory", "greater than or equal to 128"),
        ("timeout: 901\n", "gureum.yaml: timeout", "less than or equal to 900"),
        ("handler: nodot\n", "gureum.yaml: handler", "regular expression pattern"),
        ("runtime: ''\n", "gureum.yaml: runtime", "expected a non-empty string"),
        ("env: [A, B]\n", "gureum.yaml: env", "expected a mapping of NAME: value"),
        ("env: {A: {nested: 1}}\n", "gureum.yaml: env.A", "expected a string or a number"),
        ("env: {AWS_REGION: x}\n", "gureum.yaml: env", "reserved keys"),
        ("env: {1BAD: x}\n", "gureum.yaml: env", "Map keys must satisfy"),
        ("description: 7\n", "gureum.yaml: description", "expected a string"),
        ("layers: layer-arn\n", "gureum.yaml: layers", "expected a list of strings"),
        ("layers: [base:1]\n", "gureum.yaml: layers[0]", "expected a layer version ARN"),
        (
            f"layers: [{LAYER_1.removesuffix(':1')}]\n",
            "gureum.yaml: layers[0]",
            "expected a layer version ARN",
        ),
        (f"layers: [{', '.join([LAYER_1] * 6)}]\n", "gureum.yaml: layers", "at most 5 layers"),
        ("alias: '42'\n", "gureum.yaml: alias", "not only digits"),
        ("alias: 'blue green'\n", "gureum.yaml: alias", "expected an alias name"),
        ("alias: [live]\n", "gureum.yaml: alias", "expected an alias name"),
        ("memroy: 256\n", "gureum.yaml: memroy", "unknown key"),
        ("snap_start: yes\n", "gureum.yaml: snap_start", "expected PublishedVersions, All or None"),
        ("- a list\n", "gureum.yaml", "expected the file to be a mapping"),
        ("name: [unclosed\n", "gureum.yaml", "not valid YAML"),
    ],
)
def test_bad_gureum_yaml_names_the_field(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    (tmp_path / "gureum.yaml").write_text(text)
    with pytest.raises(ManifestError) as caught:
        load(tmp_path)
    assert caught.value.where == where
    assert message in caught.value.message


def test_a_folder_with_both_files_must_say_which(tmp_path: Path) -> None:
    write(tmp_path, {"gureum.yaml": "name: a\n", "template.yaml": "Resources: {}\n"})
    with pytest.raises(ManifestError, match="pass the one to deploy"):
        load(tmp_path)


def test_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file or folder"):
        load(tmp_path / "nope")


# --- SAM templates ---------------------------------------------------------------------------

TEMPLATE = """
    AWSTemplateFormatVersion: "2010-09-09"
    Transform: AWS::Serverless-2016-10-31
    Parameters:
      Stage:
        Type: String
        Default: prod
      Memory:
        Type: Number
        Default: 1024
      WorkerTimeout:
        Type: Number
        Default: 60
      NoDefault:
        Type: String
    Globals:
      Function:
        Runtime: python3.12
        Timeout: 10
        Environment:
          Variables:
            STAGE: !Ref Stage
            LEVEL: info
        Layers:
          - arn:aws:lambda:us-east-1:000000000000:layer:base:1
      Api:
        Cors: "'*'"
    Resources:
      Api:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: src/api
          Handler: app.handler
          MemorySize: !Ref Memory
          Description: !Sub "API for ${Stage} (${!NotAParameter})"
          Environment:
            Variables:
              LEVEL: debug
          Policies: [AWSLambdaBasicExecutionRole]
          Tracing: Active
          Events:
            Get: {Type: Api, Properties: {Path: /, Method: get}}
            Queue: {Type: Kinesis, Properties: {Stream: arn:aws:kinesis:us-east-1:0:stream/s}}
      Worker:
        Type: AWS::Serverless::Function
        Properties:
          FunctionName:
            Fn::Sub: "${Stage}-worker"
          CodeUri: src/worker/
          Handler: worker.main
          Timeout:
            Ref: WorkerTimeout
          AutoPublishAlias: live
          SnapStart:
            ApplyOn: PublishedVersions
      Bucket:
        Type: AWS::S3::Bucket
"""


def sam(tmp_path: Path, text: str = TEMPLATE) -> Path:
    write(tmp_path, {"template.yaml": text, "src/api/app.py": "", "src/worker/worker.py": ""})
    return tmp_path / "template.yaml"


def test_a_template_with_globals(tmp_path: Path) -> None:
    template = sam(tmp_path)
    deployment = load_template(template)
    api, worker = deployment.functions
    assert api.name == "Api" and api.code_dir == tmp_path / "src" / "api"
    assert (api.runtime, api.handler, api.memory_mb, api.timeout_s) == (
        "python3.12",
        "app.handler",
        1024,
        10,
    )
    # Maps merge key by key, the function's own value winning.
    assert api.env == {"STAGE": "prod", "LEVEL": "debug"}
    assert api.description == "API for prod (${NotAParameter})"
    assert worker.name == "prod-worker" and worker.code_dir == tmp_path / "src" / "worker"
    assert worker.timeout_s == 60 and worker.memory_mb == 128
    assert worker.env == {"STAGE": "prod", "LEVEL": "info"}
    # Layers come from Globals; AutoPublishAlias is the Worker's own.
    assert api.layers == worker.layers == ("arn:aws:lambda:us-east-1:000000000000:layer:base:1",)
    assert (api.alias, worker.alias) == (None, "live")
    assert (api.snap_start, worker.snap_start) == ("None", "PublishedVersions")
    assert deployment.source == template and deployment.layers == []


def test_a_template_reports_what_it_does_not_deploy(tmp_path: Path) -> None:
    template = sam(tmp_path)
    warnings = load(tmp_path).warnings
    assert (
        "Api: Events.Queue: Type Kinesis is not supported yet (only Schedule, ScheduleV2, Api, "
        "HttpApi, S3, SQS); it is ignored"
    ) in warnings
    assert "Api: ignoring Tracing (not used by gureum)" in warnings  # Policies: silently
    assert not any(w.startswith("Worker:") for w in warnings)  # AutoPublishAlias is deployed
    assert not any("Bucket" in w for w in warnings)  # buckets are deployed
    assert [(b.logical_id, b.name) for b in load(tmp_path).buckets] == [("Bucket", "bucket")]
    assert load(template).functions == load(tmp_path).functions


def test_a_ref_to_anything_but_a_parameter_with_a_default_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load_template(sam(tmp_path, TEMPLATE.replace("Ref: WorkerTimeout", "Ref: Stage2")))
    assert caught.value.where == "template.yaml: Resources.Worker.Properties.Timeout"
    assert "!Ref Stage2: gureum resolves only Parameters that have a Default" in str(caught.value)

    text = TEMPLATE.replace("Ref: WorkerTimeout", "Ref: NoDefault")
    with pytest.raises(ManifestError, match="!Ref NoDefault"):
        load_template(sam(tmp_path, text))


def test_other_intrinsics_are_refused_clearly(tmp_path: Path) -> None:
    text = TEMPLATE.replace("Ref: WorkerTimeout", "Fn::GetAtt: [Bucket, RegionalDomainName]")
    with pytest.raises(ManifestError, match=r"Timeout: !GetAtt is not supported"):
        load_template(sam(tmp_path, text))
    text = TEMPLATE.replace("!Ref Memory", "!FindInMap [Sizes, !Ref Stage, Memory]")
    with pytest.raises(ManifestError, match=r"MemorySize: !FindInMap is not supported"):
        load_template(sam(tmp_path, text))


def test_intrinsics_in_properties_gureum_ignores_are_left_alone(tmp_path: Path) -> None:
    text = TEMPLATE.replace("Tracing: Active", "Role: !GetAtt SomeRole.Arn")
    assert len(load_template(sam(tmp_path, text)).functions) == 2


def minimal(properties: str, extra: str = "") -> str:
    body = textwrap.indent(textwrap.dedent(properties).strip(), " " * 6)
    return (
        f"{extra}Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n{body}\n"
    )


@pytest.mark.parametrize(
    ("properties", "where", "message"),
    [
        ("Runtime: python3.11", "Properties.Handler", "required"),
        ("Handler: app.handler", "Properties.Runtime", "required"),
        ("Handler: a.b\nRuntime: x\nCodeUri: missing", "Properties.CodeUri", "is not a folder"),
        (
            "Handler: a.b\nRuntime: x\nCodeUri: {Bucket: b, Key: k}",
            "Properties.CodeUri",
            "code in S3 is not supported",
        ),
        ("Handler: a.b\nRuntime: x\nInlineCode: 'x'", "Properties", "only CodeUri"),
        ("Handler: a.b\nRuntime: x\nMemorySize: big", "Properties.MemorySize", "an integer"),
        ("Handler: a.b\nRuntime: x\nEnvironment: {A: b}", "Properties.Environment", "Variables"),
        ("Handler: a.b\nRuntime: x\nFunctionName: 'a b'", "Properties.FunctionName", "pattern"),
    ],
)
def test_bad_function_properties_name_the_field(
    tmp_path: Path, properties: str, where: str, message: str
) -> None:
    (tmp_path / "template.yaml").write_text(minimal(properties))
    with pytest.raises(ManifestError) as caught:
        load_template(tmp_path / "template.yaml")
    assert caught.value.where == f"template.yaml: Resources.Fn.{where}"
    assert message in caught.value.message


def test_numbers_may_come_as_strings_from_parameters(tmp_path: Path) -> None:
    extra = "Parameters:\n  Size:\n    Type: Number\n    Default: '256'\n"
    text = minimal("Handler: a.b\nRuntime: x\nMemorySize: !Ref Size", extra)
    (tmp_path / "template.yaml").write_text(text)
    (spec,) = load_template(tmp_path / "template.yaml").functions
    assert spec.memory_mb == 256 and spec.code_dir == tmp_path


def test_sub_with_its_own_variables(tmp_path: Path) -> None:
    text = minimal('Handler: a.b\nRuntime: x\nDescription: !Sub ["${A}-${B}", {A: one, B: 2}]')
    (tmp_path / "template.yaml").write_text(text)
    assert load_template(tmp_path / "template.yaml").functions[0].description == "one-2"


def test_a_template_without_functions(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text("Resources:\n  B:\n    Type: AWS::S3::Bucket\n")
    with pytest.raises(
        ManifestError,
        match=r"no AWS::Serverless::Function or AWS::Serverless::LayerVersion to deploy",
    ):
        load(tmp_path)
    (tmp_path / "template.yaml").write_text("Description: nothing\n")
    with pytest.raises(ManifestError, match="Resources: expected Resources to be a mapping"):
        load(tmp_path)


def test_name_renames_the_only_function_of_a_template(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(minimal("Handler: a.b\nRuntime: x"))
    assert only(tmp_path, "renamed").name == "renamed"
    template = sam(tmp_path)
    with pytest.raises(ManifestError, match="this template has 2"):
        load_template(template, "renamed")


def test_json_templates_and_long_form_intrinsics(tmp_path: Path) -> None:
    (tmp_path / "template.json").write_text(
        '{"Parameters": {"H": {"Type": "String", "Default": "app.main"}},'
        ' "Resources": {"Fn": {"Type": "AWS::Serverless::Function",'
        ' "Properties": {"Handler": {"Ref": "H"}, "Runtime": "python3.11"}}}}'
    )
    assert only(tmp_path / "template.json").handler == "app.main"


def test_merge_globals_follows_sam() -> None:
    globals_ = {"Timeout": 3, "Environment": {"Variables": {"A": "1", "B": "2"}}, "Layers": ["x"]}
    own = {"Timeout": 9, "Environment": {"Variables": {"B": "two"}}, "Layers": ["y"]}
    assert merge_globals(globals_, own) == {
        "Timeout": 9,
        "Environment": {"Variables": {"A": "1", "B": "two"}},
        "Layers": ["x", "y"],
    }
    assert globals_["Environment"] == {"Variables": {"A": "1", "B": "2"}}  # not modified


# --- SAM layers and AutoPublishAlias ---------------------------------------------------------

LAYERED = """
    Parameters:
      ExtraLayer:
        Type: String
        Default: arn:aws:lambda:us-east-1:000000000000:layer:extra:3
    Globals:
      Function:
        Runtime: python3.11
        Handler: app.handler
        AutoPublishAlias: live
        Layers:
          - !Ref ExtraLayer
    Resources:
      Reader:
        Type: AWS::Serverless::Function
        Properties:
          Layers: [!Ref Lib, !Ref Vendored]
          VersionDescription: reads
      Writer:
        Type: AWS::Serverless::Function
        Properties:
          AutoPublishAlias: canary
          DeploymentPreference: {Type: Canary10Percent5Minutes}
      Lib:
        Type: AWS::Serverless::LayerVersion
        Properties:
          LayerName: shared-lib
          Description: Shared code
          ContentUri: lib/
          CompatibleRuntimes: [python3.11, python3.12]
          LicenseInfo: MIT
          RetentionPolicy: Retain
        Metadata:
          BuildMethod: python3.11
      Vendored:
        Type: AWS::Serverless::LayerVersion
        Properties:
          ContentUri: vendored.zip
          Color: blue
        Metadata:
          BuildMethod: makefile
"""


def layered(tmp_path: Path, text: str = LAYERED) -> Path:
    write(tmp_path, {"template.yaml": text, "lib/shared.py": "", "app.py": ""})
    (tmp_path / "vendored.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty zip
    return tmp_path / "template.yaml"


def test_layer_versions_and_auto_publish_alias(tmp_path: Path) -> None:
    deployment = load_template(layered(tmp_path))
    lib, vendored = deployment.layers
    assert lib == LayerSpec(
        logical_id="Lib",
        name="shared-lib",
        content=tmp_path / "lib",
        description="Shared code",
        runtimes=("python3.11", "python3.12"),
        license_info="MIT",
        python_build=True,
    )
    # LayerName defaults to the logical id; only python BuildMethods are built.
    assert (vendored.name, vendored.content, vendored.python_build) == (
        "Vendored",
        tmp_path / "vendored.zip",
        False,
    )
    reader, writer = deployment.functions
    # Globals' layers first, then the function's own; !Ref of a layer stands for its new version.
    assert reader.layers == ("arn:aws:lambda:us-east-1:000000000000:layer:extra:3", lib, vendored)
    assert (reader.alias, reader.version_description) == ("live", "reads")
    assert writer.layers == ("arn:aws:lambda:us-east-1:000000000000:layer:extra:3",)
    assert (writer.alias, writer.version_description) == ("canary", None)
    assert deployment.warnings == [
        "Vendored: ignoring Color (not used by gureum)",
        "Vendored: Metadata.BuildMethod makefile is not run: ContentUri is published as it is",
        "Writer: DeploymentPreference is ignored: the alias moves to the new version at once",
    ]


def test_a_template_of_layers_only(tmp_path: Path) -> None:
    text = LAYERED.split("      Reader:")[0] + "      Lib:" + LAYERED.split("      Lib:")[1]
    deployment = load(layered(tmp_path, text))
    assert deployment.functions == [] and len(deployment.layers) == 2
    with pytest.raises(ManifestError, match="this template has 0"):
        load(tmp_path, "renamed")


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        ("ContentUri: lib/", "ContentUri: nowhere/", "Lib.Properties.ContentUri", "not a folder"),
        ("ContentUri: lib/", "ContentUri: {Bucket: b, Key: k}", "Lib.Properties.ContentUri", "S3"),
        ("ContentUri: lib/", "Description: no content", "Lib.Properties.ContentUri", "required"),
        ("LayerName: shared-lib", "LayerName: a b", "Lib.Properties.LayerName", "a layer name"),
        ("VersionDescription: reads", "Description: !Ref Lib", "Reader.Properties.Description",
         "!Ref Lib (a layer: only a function's Layers can use it)"),
        ("[!Ref Lib, !Ref Vendored]", "!Ref Lib", "Reader.Properties.Layers", "expected a list"),
        # Positions count the Globals' layer, which comes first.
        ("[!Ref Lib, !Ref Vendored]", "[!Ref Lib, 'base:1']", "Reader.Properties.Layers[2]",
         "expected a layer version ARN"),
        ("[!Ref Lib, !Ref Vendored]", "[!Ref Lib, !Ref Vendored, !Ref Lib, !Ref Lib, !Ref Lib]",
         "Reader.Properties.Layers", "at most 5 layers, not 6"),  # one from Globals
        ("AutoPublishAlias: canary", "AutoPublishAlias: '7'", "Writer.Properties.AutoPublishAlias",
         "not only digits"),
        ("[!Ref Lib, !Ref Vendored]", "[!Ref Nothing]", "Reader.Properties.Layers[1]",
         "!Ref Nothing: gureum resolves only Parameters that have a Default and "
         "AWS::Serverless::LayerVersion resources"),
    ],
)  # fmt: skip
def test_bad_layers_and_aliases_name_the_field(
    tmp_path: Path, old: str, new: str, where: str, message: str
) -> None:
    assert old in LAYERED
    with pytest.raises(ManifestError) as caught:
        load_template(layered(tmp_path, LAYERED.replace(old, new)))
    assert caught.value.where == f"template.yaml: Resources.{where}"
    assert message in caught.value.message
