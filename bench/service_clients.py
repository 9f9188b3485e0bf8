"""The two S3/SQS clients bench/services.py drives gureum with: boto3 with its defaults, and
unsigned requests over one keep-alive http.client connection (the lightest Python has)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from http.client import HTTPConnection
from typing import Any, Protocol
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from bench import procs

BATCH = 10  # SQS's most per SendMessageBatch and ReceiveMessage
SQS_JSON = "application/x-amz-json-1.0"


class Client(Protocol):
    """What a client thread calls; each raises on any answer but success."""

    def put(self, bucket: str, key: str, body: bytes) -> None: ...
    def get(self, bucket: str, key: str) -> int: ...  # the body's length
    def send(self, body: str) -> int: ...  # how many it sent: 1
    def send_batch(self, bodies: Sequence[str]) -> int: ...
    def receive(self) -> int: ...  # how many it received, and deleted with DeleteMessageBatch


def aws_client(service: str, url: str, **config: Any) -> Any:
    # No retries: a failed call shows why. Loopback accepts any credentials.
    settings = Config(retries={"total_max_attempts": 1, "mode": "standard"}, **config)
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
        aws_secret_access_key="bench", config=settings,
    )  # fmt: skip


class Boto3Client:
    """boto3 with its defaults, as functions and scripts call S3 and SQS."""

    def __init__(self, url: str, queue_url: str) -> None:
        self.s3 = aws_client("s3", url, s3={"addressing_style": "path"})
        self.sqs = aws_client("sqs", url)
        self.queue_url = queue_url

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)

    def get(self, bucket: str, key: str) -> int:
        return len(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def send(self, body: str) -> int:
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)
        return 1

    def send_batch(self, bodies: Sequence[str]) -> int:
        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
        _all_done(self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries))
        return len(bodies)

    def receive(self) -> int:
        got = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=BATCH, WaitTimeSeconds=0
        ).get("Messages", [])
        if got:
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
            ]
            _all_done(self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries))
        return len(got)


class PlainClient:
    """Unsigned requests over one keep-alive http.client connection (gureum takes them on
    loopback): S3 path-style, SQS's JSON protocol."""

    def __init__(self, url: str, queue_url: str) -> None:
        parts = urlsplit(url)
        self.connection = HTTPConnection(parts.hostname or procs.HOST, parts.port, timeout=60)
        self.queue_url = queue_url
        self.buffer = memoryview(bytearray(1024**2))  # GET bodies are read into it, not kept

    def _request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
        self.connection.request(method, path, body, headers)
        response = self.connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {response.read()[:300]!r}")
        return response

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self._request("PUT", f"/{bucket}/{key}", body, {}).read()

    def get(self, bucket: str, key: str) -> int:
        response, size = self._request("GET", f"/{bucket}/{key}", b"", {}), 0
        while n := response.readinto(self.buffer):
            size += n
        return size

    def _sqs(self, operation: str, params: dict[str, Any]) -> Any:
        headers = {"Content-Type": SQS_JSON, "X-Amz-Target": f"AmazonSQS.{operation}"}
        body = json.dumps({"QueueUrl": self.queue_url, **params}).encode()
        return json.loads(self._request("POST", "/", body, headers).read())

    def send(self, body: str) -> int:
        self._sqs("SendMessage", {"MessageBody": body})
        return 1

    def send_batch(self, bodies: Sequence[str]) -> int:
        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
        _all_done(self._sqs("SendMessageBatch", {"Entries": entries}))
        return len(bodies)

    def receive(self) -> int:
        got = self._sqs("ReceiveMessage", {"MaxNumberOfMessages": BATCH, "WaitTimeSeconds": 0})
        messages = got.get("Messages", [])
        if messages:
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ]
            _all_done(self._sqs("DeleteMessageBatch", {"Entries": entries}))
        return len(messages)


def _all_done(reply: dict[str, Any]) -> None:
    if reply.get("Failed"):
        raise RuntimeError(f"batch entries failed: {reply['Failed'][:3]}")
