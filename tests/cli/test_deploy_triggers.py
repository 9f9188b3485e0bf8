"""`gureum deploy` of templates and gureum.yaml with schedules, routes, URLs and async settings,
against a real server: they are made, a redeploy changes nothing, and taking them out of the
file removes them (but not what was made by hand)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.cli.test_remote import deploy_json, write
from tests.conftest import HOST_RUNTIME
from tests.gateway.conftest import Server

HELLO = """
def handler(event, context):
    return {"statusCode": 200, "body": "hello from " + event["rawPath"]}
"""
WIRED = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: RUNTIME, Handler: app.handler}
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: wired-hello
      CodeUri: hello
      Events:
        Get: {Type: HttpApi, Properties: {Path: /wired/hello, Method: get}}
        Hourly: {Type: Schedule, Properties: {Schedule: rate(1 hour)}}
      FunctionUrlConfig: {AuthType: NONE}
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        DestinationConfig:
          OnFailure: {Type: Lambda, Destination: !GetAtt Sink.Arn}
  Sink:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: wired-sink, CodeUri: hello}
"""
# The same stack with its events, URL and async settings taken out.
BARE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: RUNTIME, Handler: app.handler}
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: wired-hello, CodeUri: hello}
  Sink:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: wired-sink, CodeUri: hello}
"""
ARN = "arn:aws:lambda:us-east-1:000000000000:function:"


@pytest.fixture(scope="module")
def lam(server: Server) -> Any:
    return server.client()


def app(folder: Path, template: str) -> Path:
    return write(
        folder, {"template.yaml": template.replace("RUNTIME", HOST_RUNTIME), "hello/app.py": HELLO}
    )


def state(server: Server, lam: Any) -> dict[str, Any]:
    """What the server holds for the stack 'wired'."""
    schedules = httpx.get(f"{server.url}/_gureum/schedules", params={"group": "wired"}).json()
    routes = httpx.get(f"{server.url}/_gureum/routes").json()["routes"]
    try:
        url = lam.get_function_url_config(FunctionName="wired-hello")["FunctionUrl"]
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ResourceNotFoundException"
        url = None
    try:
        config = lam.get_function_event_invoke_config(FunctionName="wired-hello")
        on_failure = config["DestinationConfig"]["OnFailure"].get("Destination")
    except ClientError:
        on_failure = None
    return {
        "schedules": [(s["name"], s["expression"], s["target"]) for s in schedules["schedules"]],
        "routes": [(r["route"], r["function"]) for r in routes if r["owner"] == "wired"],
        "url": url,
        "on_failure": on_failure,
    }


def test_deploy_wires_a_template_and_a_redeploy_removes_what_was_taken_out(
    env: dict[str, str], server: Server, lam: Any, tmp_path: Path
) -> None:
    folder = app(tmp_path, WIRED)
    summary = deploy_json(env, str(folder), "--stack-name", "wired")
    assert summary["stack"] == "wired"
    assert summary["routes"] == [
        {"route": "GET /wired/hello", "function": "wired-hello", "payloadFormat": "2.0"}
    ]
    wired = state(server, lam)
    assert wired["schedules"] == [("Hello-Hourly", "rate(1 hour)", ARN + "wired-hello")]
    assert wired["routes"] == [("GET /wired/hello", "wired-hello")]
    assert wired["on_failure"] == ARN + "wired-sink"
    assert summary["urls"] == {"wired-hello": wired["url"]}

    # The route and the URL answer on the user-facing listener.
    reply = httpx.get(f"{server.http_url}/wired/hello")
    assert (reply.status_code, reply.text) == (200, "hello from /wired/hello")
    url_id = wired["url"].split("//")[1].split(".")[0]
    reply = httpx.get(f"{server.http_url}/_lambda-url/{url_id}/via-url")
    assert (reply.status_code, reply.text) == (200, "hello from /via-url")

    # Redeploying the same file changes nothing (the URL keeps its address).
    deploy_json(env, str(folder), "--stack-name", "wired")
    assert state(server, lam) == wired

    # Taken out of the file: gone from the server.
    deploy_json(env, str(app(tmp_path, BARE)), "--stack-name", "wired")
    assert state(server, lam) == {"schedules": [], "routes": [], "url": None, "on_failure": None}
    assert httpx.get(f"{server.http_url}/wired/hello").status_code == 404


def test_a_url_made_by_hand_survives_a_deploy_without_one(
    env: dict[str, str], lam: Any, tmp_path: Path
) -> None:
    folder = write(
        tmp_path,
        {"gureum.yaml": "name: handmade\nroutes: [GET /handmade]\n", "app.py": HELLO},
    )
    deploy_json(env, str(folder))
    made = lam.create_function_url_config(FunctionName="handmade", AuthType="NONE")
    summary = deploy_json(env, str(folder))
    assert summary["urls"] == {}
    assert (
        lam.get_function_url_config(FunctionName="handmade")["FunctionUrl"] == (made["FunctionUrl"])
    )


def test_gureum_yaml_schedules_and_async_settings(
    env: dict[str, str], server: Server, lam: Any, tmp_path: Path
) -> None:
    write(tmp_path / "dlq", {"app.py": HELLO})
    deploy_json(env, str(tmp_path / "dlq"), "--name", "yaml-dlq")
    folder = write(
        tmp_path / "reports",
        {
            "gureum.yaml": """
                name: yaml-reports
                alias: live
                schedules:
                  - rate(6 hours)
                  - {name: morning, expression: "cron(0 9 * * ? *)", catch_up: skip}
                url: {auth: AWS_IAM}
                async: {retries: 0, on_failure: yaml-dlq}
            """,
            "app.py": HELLO,
        },
    )
    deploy_json(env, str(folder))
    listed = httpx.get(f"{server.url}/_gureum/schedules", params={"group": "yaml-reports"}).json()
    schedules = {s["name"]: s for s in listed["schedules"]}
    assert set(schedules) == {"schedule-1", "morning"}
    # Events go to the alias the deploy points at the new version.
    assert schedules["morning"]["target"] == ARN + "yaml-reports:live"
    assert schedules["morning"]["catchUp"] == "skip"
    url = lam.get_function_url_config(FunctionName="yaml-reports", Qualifier="live")
    assert url["AuthType"] == "AWS_IAM"
    config = lam.get_function_event_invoke_config(FunctionName="yaml-reports", Qualifier="live")
    assert config["MaximumRetryAttempts"] == 0
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == ARN + "yaml-dlq"

    # Without the alias, the URL and the settings move to the function itself.
    (folder / "gureum.yaml").write_text("name: yaml-reports\nurl: true\nasync: {retries: 2}\n")
    deploy_json(env, str(folder))
    with pytest.raises(ClientError):
        lam.get_function_url_config(FunctionName="yaml-reports", Qualifier="live")
    assert lam.get_function_url_config(FunctionName="yaml-reports")["AuthType"] == "NONE"
    with pytest.raises(ClientError):
        lam.get_function_event_invoke_config(FunctionName="yaml-reports", Qualifier="live")
    config = lam.get_function_event_invoke_config(FunctionName="yaml-reports")
    assert config["MaximumRetryAttempts"] == 2
    listed = httpx.get(f"{server.url}/_gureum/schedules", params={"group": "yaml-reports"}).json()
    assert listed == {"schedules": []}


QUEUED = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Dead:
    Type: AWS::SQS::Queue
    Properties: {QueueName: deployed-dead}
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: deployed-jobs
      VisibilityTimeout: 120
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 3}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: deployed-worker
      CodeUri: hello
      Runtime: RUNTIME
      Handler: app.handler
      Environment:
        Variables: {JOBS_URL: !Ref Jobs, DEAD_NAME: !GetAtt Dead.QueueName}
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
"""


def test_deploy_makes_queues_and_maps_them_and_a_redeploy_unmaps(
    env: dict[str, str], server: Server, lam: Any, tmp_path: Path
) -> None:
    folder = app(tmp_path, QUEUED)
    summary = deploy_json(env, str(folder), "--stack-name", "queued")
    arns = summary["queues"]
    assert set(arns) == {"deployed-dead", "deployed-jobs"}
    sqs = server.client("sqs")
    url = sqs.get_queue_url(QueueName="deployed-jobs")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "120"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": arns["deployed-dead"],
        "maxReceiveCount": 3,
    }
    config = lam.get_function_configuration(FunctionName="deployed-worker")
    variables = config["Environment"]["Variables"]
    assert variables["JOBS_URL"].endswith("/000000000000/deployed-jobs")
    assert variables["DEAD_NAME"] == "deployed-dead"
    (mapping,) = lam.list_event_source_mappings(FunctionName="deployed-worker")[
        "EventSourceMappings"
    ]
    assert (mapping["EventSourceArn"], mapping["BatchSize"]) == (arns["deployed-jobs"], 5)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]

    # Again: the same mapping, updated in place.
    deploy_json(env, str(folder), "--stack-name", "queued")
    (again,) = lam.list_event_source_mappings(FunctionName="deployed-worker")["EventSourceMappings"]
    assert again["UUID"] == mapping["UUID"]

    # The event taken out: the mapping goes; the queues stay, with their messages.
    deploy_json(env, str(app(tmp_path, QUEUED.split("      Events:")[0])), "--stack-name", "queued")
    assert (
        lam.list_event_source_mappings(FunctionName="deployed-worker")["EventSourceMappings"] == []
    )
    assert sqs.get_queue_url(QueueName="deployed-jobs")["QueueUrl"] == url


def test_snap_start_all_in_gureum_yaml_forks_latest_from_a_snapshot(
    env: dict[str, str], lam: Any, tmp_path: Path
) -> None:
    folder = write(tmp_path, {"gureum.yaml": "name: snappy\nsnap_start: All\n", "app.py": HELLO})
    deploy_json(env, str(folder))
    event = json.dumps({"rawPath": "/"}).encode()
    reply = lam.invoke(FunctionName="snappy", Payload=event, LogType="Tail")
    report = base64.b64decode(reply["LogResult"]).decode().splitlines()[-1]
    # $LATEST's instance came from a snapshot: a restore, not an init.
    assert "Restore Duration: " in report and "Init Duration" not in report, report
