"""The real AWS CLI (`aws sqs ... --endpoint-url`, v1 from the dev extra) against a real
`gureum serve`: the everyday commands, and an error as the CLI reports it."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.gateway.conftest import AwsCli, Server, aws_cli, unique


@pytest.fixture(scope="module")
def aws(server: Server, tmp_path_factory: pytest.TempPathFactory) -> AwsCli:
    return aws_cli(server, tmp_path_factory.mktemp("aws"), "sqs", key_id="cli-key")


def test_create_send_receive_delete(aws: AwsCli, server: Server) -> None:
    name = unique("cli")
    created = aws.ok("create-queue", "--queue-name", name, "--attributes", "VisibilityTimeout=60")
    url = created["QueueUrl"]
    assert url == f"{server.url}/000000000000/{name}"

    sent = aws.ok(
        "send-message",
        "--queue-url",
        url,
        "--message-body",
        "hello from the cli",
        "--message-attributes",
        json.dumps({"kind": {"DataType": "String", "StringValue": "greeting"}}),
    )
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"hello from the cli").hexdigest()
    assert sent["MD5OfMessageAttributes"]

    received = aws.ok(
        "receive-message",
        "--queue-url",
        url,
        "--attribute-names",
        "All",
        "--message-attribute-names",
        "All",
    )
    [message] = received["Messages"]
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == "hello from the cli"
    assert message["MessageAttributes"] == {
        "kind": {"DataType": "String", "StringValue": "greeting"}
    }
    assert message["Attributes"]["SenderId"] == "cli-key"

    aws.ok("delete-message", "--queue-url", url, "--receipt-handle", message["ReceiptHandle"])
    counts = aws.ok(
        "get-queue-attributes",
        "--queue-url",
        url,
        "--attribute-names",
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
    )
    assert counts["Attributes"] == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }


def test_an_unknown_queue_is_reported_by_its_sqs_code(aws: AwsCli) -> None:
    done = aws.run("get-queue-url", "--queue-name", unique("missing"))
    assert done.returncode != 0
    assert "AWS.SimpleQueueService.NonExistentQueue" in done.stderr
    assert "GetQueueUrl" in done.stderr
