"""Reading schedules, routes, function URLs and async settings from SAM templates and
gureum.yaml, and refusing mistakes with the file and the field named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gureum.cli.manifest import (
    EventInvokeSpec,
    FunctionRef,
    ManifestError,
    RouteSpec,
    ScheduleSpec,
    UrlSpec,
    load,
)
from gureum.cli.manifest.specs import QueueRef, S3EventSpec, SqsEventSpec
from tests.cli.test_manifest import write

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      AutoPublishAlias: live
      Events:
        GetUser: {Type: Api, Properties: {Path: "/users/{id}", Method: get, RestApiId: !Ref Rest}}
        Anything: {Type: HttpApi, Properties: {Path: "/{proxy+}", Method: ANY}}
        Fallback: {Type: HttpApi}
        Legacy:
          Type: HttpApi
          Properties: {Path: /old, Method: post, PayloadFormatVersion: "1.0", ApiId: !Ref Http}
      FunctionUrlConfig:
        AuthType: AWS_IAM
        Cors: {AllowOrigins: ["https://example.com"], MaxAge: 60}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: nightly-worker
      CodeUri: src
      Events:
        Nightly:
          Type: Schedule
          Properties: {Schedule: "cron(0 3 * * ? *)", Input: '{"full": true}', Enabled: false}
        Seoul:
          Type: ScheduleV2
          Properties:
            Name: seoul-noon
            ScheduleExpression: cron(0 12 * * ? *)
            ScheduleExpressionTimezone: Asia/Seoul
            Description: lunch
            FlexibleTimeWindow: {Mode: "OFF"}
      EventInvokeConfig:
        MaximumRetryAttempts: 0
        MaximumEventAgeInSeconds: 600
        DestinationConfig:
          OnFailure: {Type: Lambda, Destination: !GetAtt Api.Arn}
          OnSuccess:
            Destination: arn:aws:lambda:us-east-1:000000000000:function:audit
  Rest:
    Type: AWS::Serverless::Api
    Properties: {StageName: prod}
  Http:
    Type: AWS::Serverless::HttpApi
"""


def template(tmp_path: Path, text: str = TEMPLATE) -> Path:
    write(tmp_path / "my app", {"template.yaml": text, "src/app.py": ""})
    return tmp_path / "my app"


def test_sam_events_urls_and_async_settings(tmp_path: Path) -> None:
    deployment = load(template(tmp_path))
    api, worker = deployment.functions
    assert deployment.stack == "my-app"  # from the template's folder
    assert api.routes == (
        RouteSpec("GET /users/{id}", "1.0"),
        RouteSpec("ANY /{proxy+}", "2.0"),
        RouteSpec("$default", "2.0"),
        RouteSpec("POST /old", "1.0"),
    )
    assert api.target == "Api:live"  # events go to the alias SAM publishes
    assert api.url == UrlSpec("AWS_IAM", {"AllowOrigins": ["https://example.com"], "MaxAge": 60})
    assert worker.schedules == (
        ScheduleSpec("Worker-Nightly", "cron(0 3 * * ? *)", input='{"full": true}', enabled=False),
        ScheduleSpec(
            "seoul-noon", "cron(0 12 * * ? *)", timezone="Asia/Seoul", description="lunch"
        ),
    )
    assert worker.event_invoke == EventInvokeSpec(
        retries=0,
        max_age_s=600,
        on_success="arn:aws:lambda:us-east-1:000000000000:function:audit",
        on_failure=FunctionRef("Api"),
    )
    assert "Worker: Events.Seoul: ignoring FlexibleTimeWindow (not used by gureum)" in (
        deployment.warnings
    )


def test_the_stack_name_can_be_given(tmp_path: Path) -> None:
    assert load(template(tmp_path), stack="prod-app").stack == "prod-app"
    with pytest.raises(ManifestError, match="stack name"):
        load(template(tmp_path), stack="no/slashes")


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        (
            '"cron(0 3 * * ? *)"',
            '"cron(0 3 * * * *)"',
            "Resources.Worker.Properties.Events.Nightly.Properties.Schedule",
            "'?'",
        ),
        ("Asia/Seoul", "Asia/Nowhere", "ScheduleExpressionTimezone", "time zone"),
        ('Path: "/users/{id}"', 'Path: "/users/{id"', "Events.GetUser", "{"),
        ("AuthType: AWS_IAM", "AuthType: COGNITO", "FunctionUrlConfig.AuthType", "NONE"),
        ("MaximumRetryAttempts: 0", "MaximumRetryAttempts: 3", "MaximumRetryAttempts", "0 to 2"),
        ("{Type: Lambda, Dest", "{Type: SNS, Dest", "OnFailure.Type", "not supported yet"),
        ("MaxAge: 60", "MaxAges: 60", "Cors.MaxAges", "unknown"),
        (
            "Destination: !GetAtt Api.Arn",
            "Destination: !GetAtt Rest.Arn",
            "OnFailure.Destination",
            "!GetAtt",
        ),
    ],
)
def test_sam_mistakes_name_the_field(
    tmp_path: Path, old: str, new: str, where: str, message: str
) -> None:
    assert old in TEMPLATE
    with pytest.raises(ManifestError) as caught:
        load(template(tmp_path, TEMPLATE.replace(old, new)))
    assert where in caught.value.where and message in caught.value.message, caught.value


GUREUM_YAML = """
name: reports
schedules:
  - rate(5 minutes)
  - expression: cron(0 9 ? * MON-FRI *)
    name: weekday-morning
    timezone: Europe/Berlin
    input: {kind: daily}
    catch_up: skip
    enabled: false
routes:
  - GET /reports/{id}
  - route: ANY /legacy/{proxy+}
    payload: 1.0
url: {auth: NONE, cors: {AllowOrigins: ["*"]}}
async:
  retries: 1
  max_age: 3600
  on_failure: reports-dlq
"""


def test_gureum_yaml_short_forms(tmp_path: Path) -> None:
    folder = write(tmp_path, {"gureum.yaml": GUREUM_YAML, "app.py": ""})
    deployment = load(folder)
    (spec,) = deployment.functions
    assert deployment.stack == "reports"  # a folder's stack is its function
    assert spec.schedules == (
        ScheduleSpec("schedule-1", "rate(5 minutes)"),
        ScheduleSpec(
            "weekday-morning",
            "cron(0 9 ? * MON-FRI *)",
            timezone="Europe/Berlin",
            input=json.dumps({"kind": "daily"}),
            enabled=False,
            catch_up="skip",
        ),
    )
    assert spec.routes == (RouteSpec("GET /reports/{id}"), RouteSpec("ANY /legacy/{proxy+}", "1.0"))
    assert spec.url == UrlSpec("NONE", {"AllowOrigins": ["*"]})
    assert spec.event_invoke == EventInvokeSpec(1, 3600, None, FunctionRef("reports-dlq"))


def test_gureum_yaml_url_true_and_false(tmp_path: Path) -> None:
    write(tmp_path, {"gureum.yaml": "url: true\n", "app.py": ""})
    assert load(tmp_path).functions[0].url == UrlSpec("NONE", None)
    write(tmp_path, {"gureum.yaml": "url: false\n"})
    assert load(tmp_path).functions[0].url is None


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("schedules: rate(5 minutes)\n", "schedules", "list"),
        ("schedules: [rate(5 minute)]\n", "schedules[0]", "minutes"),
        ("schedules: [{name: x}]\n", "schedules[0].expression", "required"),
        ("schedules: [{expression: rate(1 hour), every: 2}]\n", "schedules[0].every", "unknown"),
        ("schedules: [{expression: rate(1 hour), catch_up: all}]\n", "catch_up", "once"),
        ("schedules: [rate(1 hour), {expression: rate(2 hours), name: schedule-1}]\n", "", "twice"),
        ("routes: [GET users]\n", "routes[0]", "/"),
        ("routes: [GET /a, GET /a]\n", "routes", "twice"),
        ("routes: [{route: GET /a, payload: 3.0}]\n", "routes[0].payload", "1.0"),
        ("url: {auth: OPEN}\n", "url.auth", "AWS_IAM"),
        ("async: {retries: 5}\n", "async.retries", "0 to 2"),
        ("async: {max_age: 10}\n", "async.max_age", "60 to 21600"),
    ],
)
def test_gureum_yaml_mistakes_name_the_field(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    write(tmp_path, {"gureum.yaml": text, "app.py": ""})
    with pytest.raises(ManifestError) as caught:
        load(tmp_path)
    assert where in caught.value.where and message in caught.value.message, caught.value


BACKED = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Photos:
    Type: AWS::S3::Bucket
    Properties: {BucketName: my-photos}
  Dead:
    Type: AWS::SQS::Queue
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: jobs
      DelaySeconds: 5
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 4}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Runtime: python3.12
      Handler: app.handler
      Environment:
        Variables: {BUCKET: !Ref Photos, JOBS: !Ref Jobs, BUCKET_ARN: !GetAtt Photos.Arn}
      Events:
        Upload:
          Type: S3
          Properties:
            Bucket: !Ref Photos
            Events: [s3:ObjectCreated:*, s3:ObjectRemoved:Delete]
            Filter: {S3Key: {Rules: [{Name: prefix, Value: raw/}]}}
        Work:
          Type: SQS
          Properties: {Queue: !GetAtt Jobs.Arn, BatchSize: 100, MaximumBatchingWindowInSeconds: 2}
"""


def test_sam_buckets_queues_and_their_events(tmp_path: Path) -> None:
    deployment = load(template(tmp_path, BACKED))
    assert [(b.logical_id, b.name) for b in deployment.buckets] == [("Photos", "my-photos")]
    dead, jobs = deployment.queues  # the dead-letter queue first
    assert (dead.name, jobs.name) == ("Dead", "jobs")
    assert jobs.attributes == {"DelaySeconds": "5"}
    assert (jobs.dead_letter, jobs.max_receives) == (QueueRef("Dead"), 4)
    (spec,) = deployment.functions
    assert spec.env == {
        "BUCKET": "my-photos",
        "JOBS": "http://127.0.0.1:9000/000000000000/jobs",
        "BUCKET_ARN": "arn:aws:s3:::my-photos",
    }
    assert spec.s3_events == (
        S3EventSpec(
            "my-photos", ("s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"), (("prefix", "raw/"),)
        ),
    )
    assert spec.sqs_events == (SqsEventSpec(QueueRef("jobs"), batch_size=100, window_s=2),)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("BucketName: my-photos", "BucketName: My_Photos", "not a valid bucket name"),
        ("Bucket: !Ref Photos", "Bucket: elsewhere", "AWS::S3::Bucket in this template"),
        ("s3:ObjectRemoved:Delete", "s3:Everything", "not an S3 event"),
        ("Name: prefix", "Name: middle", "prefix or suffix"),
        ("Queue: !GetAtt Jobs.Arn", "Queue: jobs", "not a queue ARN"),
        ("deadLetterTargetArn: !GetAtt Dead.Arn", "deadLetterTargetArn: dead", "!GetAtt"),
    ],
)
def test_sam_backing_mistakes_are_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in BACKED
    with pytest.raises(ManifestError, match=message):
        load(template(tmp_path, BACKED.replace(old, new)))
