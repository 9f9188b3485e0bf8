"""The SQS API through boto3 against a real `gureum serve`: every operation, and its errors as
botocore sees them (``Error.Code`` is the Query-era code from ``x-amzn-query-error``; the
exception class comes from the JSON ``__type``)."""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.gateway.conftest import Server, error_of, unique

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def sqs(server: Server) -> Any:
    return server.client("sqs")


def new_queue(sqs: Any, prefix: str = "q", **attributes: str) -> str:
    return str(sqs.create_queue(QueueName=unique(prefix), Attributes=attributes)["QueueUrl"])


def md5_of_attributes(attributes: dict[str, dict[str, Any]]) -> str:
    """SQS's digest of message attributes, as its documentation describes it (boto3's input
    shape: binary values as bytes)."""

    def field(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    digest = hashlib.md5()
    for name in sorted(attributes):
        value = attributes[name]
        digest.update(field(name.encode()) + field(value["DataType"].encode()))
        if "StringValue" in value:
            digest.update(b"\x01" + field(value["StringValue"].encode()))
        else:
            digest.update(b"\x02" + field(value["BinaryValue"]))
    return digest.hexdigest()


ATTRIBUTES = {
    "colour": {"DataType": "String", "StringValue": "grün"},
    "count": {"DataType": "Number", "StringValue": "42"},
    "meta.raw": {"DataType": "Binary.png", "BinaryValue": b"\x89PNG\x00"},
    "meta.size": {"DataType": "Number.int", "StringValue": "-7"},
}


# -- queues --------------------------------------------------------------------------------------


def test_create_get_url_and_delete(sqs: Any, server: Server) -> None:
    name = unique("life")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert url == f"{server.url}/{ACCOUNT}/{name}"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as excinfo:
        sqs.get_queue_url(QueueName=name)
    assert error_of(excinfo)[:2] == ("AWS.SimpleQueueService.NonExistentQueue", 400)
    assert excinfo.value.response["Error"]["QueryErrorCode"] == "QueueDoesNotExist"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=url, MessageBody="x")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId="123456789012")


def test_queue_urls_follow_the_host_the_client_used(server: Server) -> None:
    other = server.client("sqs")
    localhost = boto3.client(
        "sqs",
        endpoint_url=server.url.replace("127.0.0.1", "localhost"),
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )
    server.clients.append(localhost)
    name = unique("host")
    url = localhost.create_queue(QueueName=name)["QueueUrl"]
    assert url.startswith("http://localhost:")
    # Any QueueUrl is taken by its last path segment.
    other.send_message(QueueUrl=f"https://elsewhere.example/{ACCOUNT}/{name}", MessageBody="x")
    assert other.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "x"


def test_create_is_idempotent_and_refuses_other_attributes(sqs: Any) -> None:
    name = unique("idem")
    first = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})
    again = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})
    assert first["QueueUrl"] == again["QueueUrl"]
    with pytest.raises(sqs.exceptions.QueueNameExists) as excinfo:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "41"})
    code, status, message = error_of(excinfo)
    assert (code, status) == ("QueueAlreadyExists", 400)
    assert "VisibilityTimeout" in message


def test_create_refuses_bad_names_and_attributes(sqs: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        sqs.create_queue(QueueName="bad name")
    assert error_of(excinfo)[:2] == ("InvalidParameterValue", 400)
    with pytest.raises(sqs.exceptions.InvalidAttributeName) as name_error:
        sqs.create_queue(QueueName=unique(), Attributes={"Colour": "blue"})
    assert error_of(name_error)[:2] == ("InvalidAttributeName", 400)
    with pytest.raises(sqs.exceptions.InvalidAttributeValue) as value_error:
        sqs.create_queue(QueueName=unique(), Attributes={"DelaySeconds": "901"})
    assert error_of(value_error)[:2] == ("InvalidAttributeValue", 400)


def test_list_queues_with_prefix_and_pages(sqs: Any, server: Server) -> None:
    prefix = unique("listing")
    names = [f"{prefix}-{n}" for n in range(5)]
    for name in names:
        sqs.create_queue(QueueName=name)
    listed = sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"]
    assert listed == [f"{server.url}/{ACCOUNT}/{name}" for name in names]
    pages = sqs.get_paginator("list_queues").paginate(
        QueueNamePrefix=prefix, PaginationConfig={"PageSize": 2}
    )
    sizes, seen = [], []
    for page in pages:
        sizes.append(len(page["QueueUrls"]))
        seen += page["QueueUrls"]
    assert sizes == [2, 2, 1] and seen == listed
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=unique("none"))
    with pytest.raises(ClientError) as excinfo:
        sqs.list_queues(MaxResults=1001)
    assert error_of(excinfo)[0] == "InvalidParameterValue"


def test_queue_attributes_all_and_each(sqs: Any) -> None:
    url = new_queue(sqs, VisibilityTimeout="45", DelaySeconds="0")
    sqs.send_message(QueueUrl=url, MessageBody="visible")
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=600)
    sqs.receive_message(QueueUrl=url)  # nothing visible but "visible": it goes in flight
    sqs.send_message(QueueUrl=url, MessageBody="visible too")
    every = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    name = url.rsplit("/", 1)[1]
    assert every["QueueArn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"
    assert every["VisibilityTimeout"] == "45"
    assert (
        every["ApproximateNumberOfMessages"],
        every["ApproximateNumberOfMessagesNotVisible"],
        every["ApproximateNumberOfMessagesDelayed"],
    ) == ("1", "1", "1")
    assert int(every["CreatedTimestamp"]) <= int(every["LastModifiedTimestamp"])
    assert set(every) >= {
        "MessageRetentionPeriod",
        "MaximumMessageSize",
        "ReceiveMessageWaitTimeSeconds",
        "DelaySeconds",
    }
    some = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds", "QueueArn"])
    assert set(some["Attributes"]) == {"DelaySeconds", "QueueArn"}
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url)
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Nope"])


def test_set_queue_attributes(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"VisibilityTimeout": "5", "MaximumMessageSize": "2048"}
    )
    got = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["VisibilityTimeout", "MaximumMessageSize"]
    )
    assert got["Attributes"] == {"VisibilityTimeout": "5", "MaximumMessageSize": "2048"}
    with pytest.raises(sqs.exceptions.InvalidAttributeValue):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "-1"})
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"QueueArn": "x"})


def test_purge_queue(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(3)]
    )
    sqs.purge_queue(QueueUrl=url)
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert got["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_tags(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("tagged"), tags={"team": "photos"})["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"env": "dev"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}


# -- messages ------------------------------------------------------------------------------------


def test_send_and_receive_with_attributes_and_checksums(sqs: Any) -> None:
    url = new_queue(sqs)
    body = "héllo 😀"
    sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=ATTRIBUTES)
    assert sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(ATTRIBUTES)

    [message] = sqs.receive_message(
        QueueUrl=url,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
    )["Messages"]
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == body
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert message["MessageAttributes"] == ATTRIBUTES
    assert message["MD5OfMessageAttributes"] == md5_of_attributes(ATTRIBUTES)
    system = message["Attributes"]
    assert system["SenderId"] == "test"  # the caller's access key
    assert system["ApproximateReceiveCount"] == "1"
    assert int(system["ApproximateFirstReceiveTimestamp"]) >= int(system["SentTimestamp"])


def test_receive_chooses_attributes_by_name_and_prefix(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=ATTRIBUTES)
    [message] = sqs.receive_message(
        QueueUrl=url,
        MessageAttributeNames=["meta.*", "colour"],
        AttributeNames=["SentTimestamp"],
        VisibilityTimeout=0,
    )["Messages"]
    chosen = {k: ATTRIBUTES[k] for k in ("colour", "meta.raw", "meta.size")}
    assert message["MessageAttributes"] == chosen
    # The checksum covers the attributes returned.
    assert message["MD5OfMessageAttributes"] == md5_of_attributes(chosen)
    assert set(message["Attributes"]) == {"SentTimestamp"}
    [bare] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert "MessageAttributes" not in bare and "Attributes" not in bare


def test_message_system_attribute_trace_header(sqs: Any) -> None:
    url = new_queue(sqs)
    trace = {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd86"}}
    sent = sqs.send_message(QueueUrl=url, MessageBody="x", MessageSystemAttributes=trace)
    assert sent["MD5OfMessageSystemAttributes"] == md5_of_attributes(trace)
    [message] = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["AWSTraceHeader"])[
        "Messages"
    ]
    assert message["Attributes"] == {"AWSTraceHeader": "Root=1-5759e988-bd86"}


def test_send_errors(sqs: Any) -> None:
    url = new_queue(sqs, MaximumMessageSize="1024")
    with pytest.raises(ClientError) as too_long:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1025)
    assert error_of(too_long)[:2] == ("InvalidParameterValue", 400)
    assert "1024 bytes" in error_of(too_long)[2]
    with pytest.raises(sqs.exceptions.InvalidMessageContents) as bad_characters:
        sqs.send_message(QueueUrl=url, MessageBody="bell \x07")
    assert error_of(bad_characters)[0] == "InvalidMessageContents"
    with pytest.raises(ClientError) as bad_attribute:
        sqs.send_message(
            QueueUrl=url,
            MessageBody="x",
            MessageAttributes={"n": {"DataType": "Number", "StringValue": "many"}},
        )
    assert error_of(bad_attribute)[0] == "InvalidParameterValue"
    with pytest.raises(ClientError) as bad_delay:
        sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)
    assert error_of(bad_delay)[0] == "InvalidParameterValue"


def test_send_message_batch(sqs: Any) -> None:
    url = new_queue(sqs)
    result = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "ok", "MessageBody": "fine", "MessageAttributes": ATTRIBUTES},
            {"Id": "bad", "MessageBody": "bell \x07"},
            {"Id": "later", "MessageBody": "delayed", "DelaySeconds": 900},
        ],
    )
    successful = {entry["Id"]: entry for entry in result["Successful"]}
    assert set(successful) == {"ok", "later"}
    assert successful["ok"]["MD5OfMessageAttributes"] == md5_of_attributes(ATTRIBUTES)
    assert successful["ok"]["MD5OfMessageBody"] == hashlib.md5(b"fine").hexdigest()
    assert result["Failed"] == [
        {
            "Id": "bad",
            "SenderFault": True,
            "Code": "InvalidMessageContents",
            "Message": result["Failed"][0]["Message"],
        }
    ]


@pytest.mark.parametrize(
    ("entries", "exception", "code"),
    [
        ([], "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest"),
        (
            [{"Id": str(n), "MessageBody": "x"} for n in range(11)],
            "TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        ),
        (
            [{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}],
            "BatchEntryIdsNotDistinct",
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        ),
        (
            [{"Id": "not ok!", "MessageBody": "x"}],
            "InvalidBatchEntryId",
            "AWS.SimpleQueueService.InvalidBatchEntryId",
        ),
        (
            [{"Id": str(n), "MessageBody": "x" * 200_000} for n in range(6)],
            "BatchRequestTooLong",
            "AWS.SimpleQueueService.BatchRequestTooLong",
        ),
    ],
)
def test_batch_request_errors(
    sqs: Any, entries: list[dict[str, str]], exception: str, code: str
) -> None:
    url = new_queue(sqs, "batch")
    with pytest.raises(getattr(sqs.exceptions, exception)) as excinfo:
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert error_of(excinfo)[:2] == (code, 400)


def test_receive_limits(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(10)]
    )
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=4)["Messages"]
    assert [m["Body"] for m in got] == ["m0", "m1", "m2", "m3"]
    for bad in ({"MaxNumberOfMessages": 11}, {"WaitTimeSeconds": 21}, {"VisibilityTimeout": -1}):
        with pytest.raises(ClientError) as excinfo:
            sqs.receive_message(QueueUrl=url, **bad)
        assert error_of(excinfo)[:2] == ("InvalidParameterValue", 400)


def test_long_poll_gets_a_message_sent_meanwhile(sqs: Any, server: Server) -> None:
    url = new_queue(sqs)
    results: list[Any] = []
    poller = server.client("sqs")
    thread = threading.Thread(
        target=lambda: results.append(poller.receive_message(QueueUrl=url, WaitTimeSeconds=20))
    )
    thread.start()
    sqs.send_message(QueueUrl=url, MessageBody="arrived")
    thread.join(timeout=60)
    assert [m["Body"] for m in results[0]["Messages"]] == ["arrived"]


def test_a_long_poll_on_an_empty_queue_ends_empty(sqs: Any) -> None:
    url = new_queue(sqs, ReceiveMessageWaitTimeSeconds="1")
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # the queue's own wait
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)


def test_delete_message_and_batch(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(3)]
    )
    first, second, third = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])  # again: fine
    result = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "ReceiptHandle": second["ReceiptHandle"]},
            {"Id": "b", "ReceiptHandle": "not-a-handle"},
            {"Id": "c", "ReceiptHandle": third["ReceiptHandle"]},
        ],
    )
    assert [e["Id"] for e in result["Successful"]] == ["a", "c"]
    [failed] = result["Failed"]
    assert (failed["Id"], failed["Code"], failed["SenderFault"]) == (
        "b",
        "ReceiptHandleIsInvalid",
        True,
    )
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid) as excinfo:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    assert error_of(excinfo)[:2] == ("ReceiptHandleIsInvalid", 400)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "0"
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_change_message_visibility_and_batch(sqs: Any) -> None:
    url = new_queue(sqs, VisibilityTimeout="600")
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(2)]
    )
    first, second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0
    )
    [again] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    assert again["Body"] == "m0"
    with pytest.raises(sqs.exceptions.MessageNotInflight) as not_inflight:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=10
        )
    assert error_of(not_inflight)[0] == "AWS.SimpleQueueService.MessageNotInflight"
    result = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "ReceiptHandle": second["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "b", "ReceiptHandle": second["ReceiptHandle"], "VisibilityTimeout": 50_000},
        ],
    )
    assert [e["Id"] for e in result["Successful"]] == ["a"]
    assert [(e["Id"], e["Code"]) for e in result["Failed"]] == [("b", "InvalidParameterValue")]
    visible = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert visible["Attributes"]["ApproximateNumberOfMessages"] == "2"


def test_redrive_to_a_dead_letter_queue(sqs: Any) -> None:
    dlq = new_queue(sqs, "dlq")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    url = new_queue(sqs, "work", RedrivePolicy=policy)
    stored = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
    assert json.loads(stored["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": 2,
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody="poison")
    for _ in range(2):  # each receive hands it back at once (visibility timeout 0)
        assert len(sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    [dead] = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"]
    assert dead["MessageId"] == sent["MessageId"]
    assert dead["Attributes"]["DeadLetterQueueSourceArn"].endswith(url.rsplit("/", 1)[1])
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [url]
    with pytest.raises(ClientError) as excinfo:
        sqs.set_queue_attributes(
            QueueUrl=url,
            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn + "x"})},
        )
    assert error_of(excinfo)[0] == "InvalidParameterValue"


def test_fifo_queue(sqs: Any) -> None:
    url = sqs.create_queue(
        QueueName=unique("orders") + ".fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    first = sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="a")
    duplicate = sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="a")
    assert duplicate["MessageId"] == first["MessageId"]
    second = sqs.send_message(
        QueueUrl=url, MessageBody="a2", MessageGroupId="a", MessageDeduplicationId="d2"
    )
    assert int(second["SequenceNumber"]) > int(first["SequenceNumber"])
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="b")
    [a1] = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    assert a1["Body"] == "a1" and a1["Attributes"]["MessageGroupId"] == "a"
    assert a1["Attributes"]["SequenceNumber"] == first["SequenceNumber"]
    # Group a waits for a1; b goes on.
    assert [
        m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ] == ["b1"]
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="no group")
    assert error_of(excinfo)[:2] == ("MissingParameter", 400)


def test_other_operations_are_unsupported(sqs: Any) -> None:
    url = new_queue(sqs)
    with pytest.raises(sqs.exceptions.UnsupportedOperation) as excinfo:
        sqs.add_permission(QueueUrl=url, Label="l", AWSAccountIds=["1"], Actions=["*"])
    code, status, message = error_of(excinfo)
    assert (code, status) == ("AWS.SimpleQueueService.UnsupportedOperation", 400)
    assert "AddPermission" in message


# -- the wire, without botocore's own checks ----------------------------------------------------


def raw(server: Server, operation: str | None, body: bytes) -> httpx.Response:
    headers = {"content-type": "application/x-amz-json-1.0"}
    if operation is not None:
        headers["x-amz-target"] = f"AmazonSQS.{operation}"
    return httpx.post(server.url + "/", content=body, headers=headers)


def test_malformed_requests_get_errors_in_the_json_shape(server: Server) -> None:
    missing = raw(server, "CreateQueue", b"{}")
    assert missing.status_code == 400
    assert missing.headers["x-amzn-query-error"] == "MissingParameter;Sender"
    assert missing.json()["message"] == "The request must contain the parameter QueueName."
    wrong_type = raw(server, "CreateQueue", b'{"QueueName": 7}')
    assert wrong_type.status_code == 400
    assert wrong_type.headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
    not_json = raw(server, "ListQueues", b"{nope")
    assert not_json.json()["__type"] == "com.amazonaws.sqs#SerializationException"
    unknown = raw(server, "MakeCoffee", b"{}")
    assert unknown.json()["__type"] == "com.amazonaws.sqs#UnsupportedOperation"
    bad_entry = raw(
        server,
        "SendMessageBatch",
        json.dumps({"QueueUrl": "x", "Entries": [{"Id": "1"}]}).encode(),
    )
    assert bad_entry.json()["message"] == (
        "The request must contain the parameter Entries.1.MessageBody."
    )
