"""S3 under `gureum serve --auth sigv4`: the signature covers x-amz-content-sha256 instead of a
buffered body, the body streams through and is checked against that hash (or chunk by chunk)."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from gureum.store.keys import KeyStore
from tests.gateway.conftest import Server, error_of, start_server, unique

MB = 1024 * 1024


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("s3auth") / "data"


@pytest.fixture(scope="module")
def key(data_dir: Path) -> tuple[str, str]:
    with KeyStore(data_dir) as keys:
        return keys.create("s3 tests")


@pytest.fixture(scope="module")
def signed_server(data_dir: Path, key: tuple[str, str]) -> Iterator[Server]:
    running = start_server(data_dir, "--auth", "sigv4")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()


def s3_client(server: Server, key_id: str, secret: str) -> Any:
    client = boto3.client(
        "s3",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    server.clients.append(client)
    return client


@pytest.fixture(scope="module")
def s3(signed_server: Server, key: tuple[str, str]) -> Any:
    return s3_client(signed_server, *key)


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    name = unique("signed")
    s3.create_bucket(Bucket=name)
    return name


def signed_headers(
    url: str, key: tuple[str, str], method: str, headers: dict[str, str]
) -> dict[str, str]:
    """botocore's SigV4 headers for an S3 request whose x-amz-content-sha256 is given."""
    request = AWSRequest(method=method, url=url, headers=headers)
    SigV4Auth(Credentials(*key), "s3", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def test_signed_requests_stream_large_bodies(s3: Any, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(8 * MB)  # past what the middleware would buffer for other APIs
    put = s3.put_object(Bucket=bucket, Key="big", Body=data)
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == data
    path = tmp_path / "parts.bin"
    path.write_bytes(os.urandom(11 * MB))
    s3.upload_file(
        str(path),
        bucket,
        "parts",
        Config=TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB),
    )
    assert s3.head_object(Bucket=bucket, Key="parts")["ContentLength"] == 11 * MB
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["big", "parts"]


def test_a_wrong_secret_is_refused(
    signed_server: Server, bucket: str, key: tuple[str, str]
) -> None:
    intruder = s3_client(signed_server, key[0], "not-the-secret")
    with pytest.raises(ClientError) as error:
        intruder.put_object(Bucket=bucket, Key="x", Body=b"x")
    # In S3's shape and words, which boto3's s3 client reads.
    assert error_of(error)[:2] == ("SignatureDoesNotMatch", 403)
    stranger = s3_client(signed_server, "AKIDNOBODYKNOWS", "secret")
    with pytest.raises(ClientError) as error:
        stranger.list_objects_v2(Bucket=bucket)
    assert error_of(error)[:2] == ("InvalidAccessKeyId", 403)
    unsigned = httpx.get(f"{signed_server.url}/{bucket}/x")
    assert unsigned.status_code == 403
    assert "<Code>AccessDenied</Code>" in unsigned.text
    # The Lambda API keeps its own shape.
    lambda_refusal = httpx.get(f"{signed_server.url}/2015-03-31/functions")
    assert lambda_refusal.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"


def test_a_body_other_than_the_signed_hash_is_refused(
    signed_server: Server, bucket: str, key: tuple[str, str], s3: Any
) -> None:
    url = f"{signed_server.url}/{bucket}/swapped"
    claimed = hashlib.sha256(b"what was signed").hexdigest()
    headers = signed_headers(url, key, "PUT", {"x-amz-content-sha256": claimed})
    response = httpx.put(url, headers=headers, content=b"something else")
    assert response.status_code == 400
    assert "<Code>XAmzContentSHA256Mismatch</Code>" in response.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="swapped")


def test_unsigned_payload_and_presigned_urls(
    signed_server: Server, bucket: str, key: tuple[str, str], s3: Any
) -> None:
    url = f"{signed_server.url}/{bucket}/unsigned"
    headers = signed_headers(url, key, "PUT", {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    assert httpx.put(url, headers=headers, content=b"anything").status_code == 200
    presigner = boto3.client(
        "s3",
        endpoint_url=signed_server.url,
        region_name="us-east-1",
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )
    signed_server.clients.append(presigner)
    link = presigner.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "unsigned"}
    )
    assert httpx.get(link).content == b"anything"
    assert httpx.get(f"{signed_server.url}/{bucket}/unsigned").status_code == 403


def _chunked(body: bytes, size: int, key: bytes, timestamp: str, scope: str, seed: str) -> bytes:
    """``body`` framed as STREAMING-AWS4-HMAC-SHA256-PAYLOAD, each chunk signed after the last."""
    out, previous = [], seed
    pieces = [body[i : i + size] for i in range(0, len(body), size)] + [b""]
    for piece in pieces:
        to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                timestamp,
                scope,
                previous,
                hashlib.sha256(b"").hexdigest(),
                hashlib.sha256(piece).hexdigest(),
            ]
        )
        previous = hmac.new(key, to_sign.encode(), "sha256").hexdigest()
        out.append(f"{len(piece):x};chunk-signature={previous}\r\n".encode() + piece + b"\r\n")
    return b"".join(out)


@pytest.mark.parametrize("tamper", [False, True])
def test_chunk_signed_uploads(
    signed_server: Server, bucket: str, key: tuple[str, str], s3: Any, tamper: bool
) -> None:
    data = os.urandom(200_000)
    name = f"streamed-{tamper}"
    url = f"{signed_server.url}/{bucket}/{name}"
    headers = signed_headers(
        url,
        key,
        "PUT",
        {
            "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "content-encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(data)),
        },
    )
    fields = dict(
        part.strip().partition("=")[::2]
        for part in headers["Authorization"].split(" ", 1)[1].split(",")
    )
    _, date, region, service, terminal = fields["Credential"].split("/")
    signing = hmac.digest(f"AWS4{key[1]}".encode(), date.encode(), "sha256")
    for part in (region, service, terminal):
        signing = hmac.digest(signing, part.encode(), "sha256")
    scope = f"{date}/{region}/{service}/{terminal}"
    body = _chunked(data, 65536, signing, headers["X-Amz-Date"], scope, fields["Signature"])
    if tamper:
        body = body.replace(data[70000:70010], bytes(10), 1)
    response = httpx.put(url, headers=headers, content=body)
    if tamper:
        assert response.status_code == 403
        assert "<Code>SignatureDoesNotMatch</Code>" in response.text
        with pytest.raises(ClientError):
            s3.head_object(Bucket=bucket, Key=name)
    else:
        assert response.status_code == 200, response.text
        assert s3.get_object(Bucket=bucket, Key=name)["Body"].read() == data
