"""The real AWS CLI (`aws s3 ...`, `aws s3api ...`) against a real `gureum serve`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.gateway.conftest import AwsCli, Server, aws_cli, unique

MB = 1024 * 1024


@pytest.fixture(scope="module")
def aws(server: Server, tmp_path_factory: pytest.TempPathFactory) -> AwsCli:
    return aws_cli(server, tmp_path_factory.mktemp("aws"))


def test_cp_of_20_mb_up_and_down_is_multipart_and_exact(aws: AwsCli, tmp_path: Path) -> None:
    bucket = unique("cli")
    aws.ok("s3", "mb", f"s3://{bucket}")
    source = tmp_path / "big.bin"
    data = os.urandom(20 * MB)
    source.write_bytes(data)
    aws.ok("s3", "cp", str(source), f"s3://{bucket}/videos/big.bin")
    head = aws.ok("s3api", "head-object", "--bucket", bucket, "--key", "videos/big.bin")
    assert head["ContentLength"] == 20 * MB
    assert head["ETag"].endswith('-3"')  # 8 MB parts: the CLI used multipart
    listed = aws.ok("s3", "ls", f"s3://{bucket}/videos/")
    assert "big.bin" in listed and str(20 * MB) in listed
    target = tmp_path / "back.bin"
    aws.ok("s3", "cp", f"s3://{bucket}/videos/big.bin", str(target))
    assert target.read_bytes() == data
    aws.ok("s3", "rm", f"s3://{bucket}/videos/big.bin")
    remaining = aws.ok("s3api", "list-objects-v2", "--bucket", bucket)
    assert not isinstance(remaining, dict) or "Contents" not in remaining
    aws.ok("s3", "rb", f"s3://{bucket}")


def test_s3api_calls_and_errors(aws: AwsCli, tmp_path: Path) -> None:
    bucket = unique("cli")
    aws.ok("s3api", "create-bucket", "--bucket", bucket)
    assert "BucketAlreadyOwnedByYou" in aws.fails("s3api", "create-bucket", "--bucket", bucket)
    body = tmp_path / "hello.txt"
    body.write_bytes(b"hello world")
    put = aws.ok(
        "s3api",
        "put-object",
        "--bucket",
        bucket,
        "--key",
        "a/hello.txt",
        "--body",
        str(body),
        "--content-type",
        "text/plain",
        "--metadata",
        "owner=ana",
    )
    assert put["ETag"] == '"5eb63bbbe01eeed093cb22bb8f5acdc3"'
    out = tmp_path / "out.txt"
    got = aws.ok(
        "s3api",
        "get-object",
        "--bucket",
        bucket,
        "--key",
        "a/hello.txt",
        "--range",
        "bytes=0-4",
        str(out),
    )
    assert out.read_bytes() == b"hello" and got["ContentRange"] == "bytes 0-4/11"
    assert got["Metadata"] == {"owner": "ana"}
    listed = aws.ok("s3api", "list-objects-v2", "--bucket", bucket, "--delimiter", "/")
    assert listed["CommonPrefixes"] == [{"Prefix": "a/"}]
    aws.ok(
        "s3api",
        "copy-object",
        "--bucket",
        bucket,
        "--key",
        "b.txt",
        "--copy-source",
        f"{bucket}/a/hello.txt",
    )
    assert "NoSuchKey" in aws.fails(
        "s3api", "get-object", "--bucket", bucket, "--key", "nope", str(out)
    )
    assert "BucketNotEmpty" in aws.fails("s3api", "delete-bucket", "--bucket", bucket)
    aws.ok(
        "s3api",
        "delete-objects",
        "--bucket",
        bucket,
        "--delete",
        json.dumps({"Objects": [{"Key": "a/hello.txt"}, {"Key": "b.txt"}]}),
    )
    notification = {
        "QueueConfigurations": [
            {
                "Id": "q",
                "QueueArn": "arn:aws:sqs:us-east-1:000000000000:uploads",
                "Events": ["s3:ObjectCreated:Put"],
            }
        ]
    }
    aws.ok(
        "s3api",
        "put-bucket-notification-configuration",
        "--bucket",
        bucket,
        "--notification-configuration",
        json.dumps(notification),
    )
    got_config = aws.ok("s3api", "get-bucket-notification-configuration", "--bucket", bucket)
    assert got_config == notification
    aws.ok("s3api", "delete-bucket", "--bucket", bucket)
    assert "NoSuchBucket" in aws.fails("s3", "ls", f"s3://{bucket}")
