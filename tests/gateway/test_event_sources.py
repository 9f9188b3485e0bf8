"""Queues and buckets as event sources through the real APIs with boto3: event source mappings,
bucket notifications to functions and queues, and queues as async destinations."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.gateway.conftest import Server, code, create, error_of, unique

# Sends what it got to the queue named in its event or environment: a test reads it there.
FORWARD = code(
    """
    import json, os
    import boto3
    sqs = boto3.client("sqs")
    def handler(event, context):
        url = sqs.get_queue_url(QueueName=os.environ["OUT"])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
        if os.environ.get("FAIL"):
            raise RuntimeError("asked to fail")
    """
)
ROOMY = {"MemorySize": 1024, "Timeout": 60}


@pytest.fixture(scope="module")
def sqs(server: Server) -> Any:
    return server.client("sqs")


@pytest.fixture(scope="module")
def s3(server: Server) -> Any:
    return server.client("s3", s3={"addressing_style": "path"})


def queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def read(sqs: Any, url: str, count: int) -> list[dict[str, Any]]:
    """``count`` messages from the queue, by long polls (each returns when one arrives)."""
    got: list[dict[str, Any]] = []
    for _ in range(count + 5):
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
        for message in reply.get("Messages", []):
            got.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if len(got) >= count:
            return got
    raise AssertionError(f"only {len(got)} of {count} messages arrived")


def settled(lam: Any, mapping_uuid: str) -> None:
    """Until the mapping's last batch is settled (polled: the poller runs on its own)."""
    deadline = time.monotonic() + 30
    while lam.get_event_source_mapping(UUID=mapping_uuid)["LastProcessingResult"] != "OK":
        assert time.monotonic() < deadline, "the batch was never settled"
        time.sleep(0.02)  # polling a condition, not waiting for a time


def test_event_source_mapping_lifecycle_and_delivery(lam: Any, sqs: Any) -> None:
    name, source, out = unique("consumer"), unique("source"), unique("out")
    out_url, _ = queue(sqs, out)
    source_url, source_arn = queue(sqs, source)
    create(lam, name, FORWARD, Environment={"Variables": {"OUT": out}}, **ROOMY)
    made = lam.create_event_source_mapping(
        EventSourceArn=source_arn, FunctionName=name, BatchSize=5
    )
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert (made["State"], made["BatchSize"], made["EventSourceArn"]) == ("Enabled", 5, source_arn)
    assert made["FunctionArn"].endswith(f":function:{name}")

    sqs.send_message(
        QueueUrl=source_url,
        MessageBody="hello",
        MessageAttributes={"n": {"DataType": "Number", "StringValue": "7"}},
    )
    (event,) = read(sqs, out_url, 1)
    (record,) = event["Records"]
    assert (record["body"], record["eventSource"], record["eventSourceARN"]) == (
        "hello",
        "aws:sqs",
        source_arn,
    )
    assert record["messageAttributes"]["n"]["stringValue"] == "7"
    # The function sent its copy while running; the poller settles the batch after it returns.
    settled(lam, made["UUID"])
    # Handled, so deleted from the source.
    attributes = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0"
    updated = lam.update_event_source_mapping(UUID=made["UUID"], Enabled=False, BatchSize=10)
    assert (updated["State"], updated["BatchSize"]) == ("Disabled", 10)
    listed = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [made["UUID"]]
    assert lam.list_event_source_mappings(EventSourceArn=source_arn)["EventSourceMappings"]
    deleted = lam.delete_event_source_mapping(UUID=made["UUID"])
    assert deleted["State"] == "Deleting"
    with pytest.raises(ClientError) as excinfo:
        lam.get_event_source_mapping(UUID=made["UUID"])
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_event_source_mapping_errors(lam: Any, sqs: Any) -> None:
    name = unique("consumer")
    _, arn = queue(sqs, unique("source"))
    create(lam, name)
    with pytest.raises(ClientError) as excinfo:
        lam.create_event_source_mapping(EventSourceArn=arn + "-missing", FunctionName=name)
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as excinfo:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="no-such-function")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=50)
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, Enabled=False)
    with pytest.raises(ClientError) as excinfo:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    assert error_of(excinfo)[:2] == ("ResourceConflictException", 409)


def test_bucket_notifications_reach_a_function_and_a_queue(lam: Any, sqs: Any, s3: Any) -> None:
    name, out, bucket = unique("on-upload"), unique("out"), unique("bucket")
    out_url, _ = queue(sqs, out)
    direct_url, direct_arn = queue(sqs, unique("direct"))
    create(lam, name, FORWARD, Environment={"Variables": {"OUT": out}}, **ROOMY)
    function_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "Id": "images",
                    "LambdaFunctionArn": function_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "img/"}]}},
                }
            ],
            "QueueConfigurations": [
                {"Id": "removals", "QueueArn": direct_arn, "Events": ["s3:ObjectRemoved:*"]}
            ],
        },
    )
    s3.put_object(Bucket=bucket, Key="img/a b.png", Body=b"png")
    s3.put_object(Bucket=bucket, Key="docs/readme.txt", Body=b"text")  # no rule matches
    s3.delete_object(Bucket=bucket, Key="docs/readme.txt")

    (event,) = read(sqs, out_url, 1)
    (record,) = event["Records"]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["object"]["key"] == "img/a+b.png"  # URL-encoded, as S3 sends it
    assert record["s3"]["configurationId"] == "images"
    (removal,) = read(sqs, direct_url, 1)
    assert removal["Records"][0]["eventName"] == "ObjectRemoved:Delete"


def test_a_queue_is_an_async_destination_and_a_dead_letter_target(lam: Any, sqs: Any) -> None:
    name, out = unique("failing"), unique("out")
    _, out_arn = queue(sqs, out)
    records_url, records_arn = queue(sqs, unique("records"))
    dead_url, dead_arn = queue(sqs, unique("dead"))
    create(
        lam,
        name,
        FORWARD,
        Environment={"Variables": {"OUT": out, "FAIL": "1"}},
        DeadLetterConfig={"TargetArn": dead_arn},
        **ROOMY,
    )
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": records_arn}},
    )
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 1}')
    (record,) = read(sqs, records_url, 1)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"n": 1}
    assert record["responsePayload"]["errorMessage"] == "asked to fail"
    assert read(sqs, dead_url, 1) == [{"n": 1}]  # the dead letter is the event itself
    assert out_arn.endswith(out)
