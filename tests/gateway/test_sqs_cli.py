"""The real AWS CLI (`aws sqs ... --endpoint-url`, v1 from the dev extra) against a real
`gureum serve`: the everyday commands, and an error as the CLI reports it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from tests.gateway.conftest import Server, unique


@dataclass
class AwsSqs:
    url: str
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "awscli", "sqs", *args]
        command += ["--endpoint-url", self.url, "--region", "us-east-1", "--output", "json"]
        return subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=60)

    def ok(self, *args: str) -> Any:
        done = self.run(*args)
        assert done.returncode == 0, f"aws sqs {' '.join(args)}: {done.stderr}"
        return json.loads(done.stdout) if done.stdout.strip() else {}


@pytest.fixture(scope="module")
def aws(server: Server, tmp_path_factory: pytest.TempPathFactory) -> AwsSqs:
    home = tmp_path_factory.mktemp("aws")
    (home / "config").write_text("[default]\n")
    (home / "credentials").write_text("")
    # Nothing from the developer's own AWS setup (profile, region, endpoint) may leak in.
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="cli-key",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_CONFIG_FILE=str(home / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"),
        AWS_PAGER="",
    )
    return AwsSqs(server.url, env)


def test_create_send_receive_delete(aws: AwsSqs, server: Server) -> None:
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


def test_an_unknown_queue_is_reported_by_its_sqs_code(aws: AwsSqs) -> None:
    done = aws.run("get-queue-url", "--queue-name", unique("missing"))
    assert done.returncode != 0
    assert "AWS.SimpleQueueService.NonExistentQueue" in done.stderr
    assert "GetQueueUrl" in done.stderr
