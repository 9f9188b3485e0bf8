"""aws-chunked request bodies: botocore's own encoding (what it sends over https), sent to a real
`gureum serve` over http, and the decoder on its own, with AWS's published signature example."""

from __future__ import annotations

import hashlib
import hmac
import io
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError

from gureum.gateway.s3_body import AwsChunked, ChunkSignatures, SignatureDoesNotMatch
from gureum.services.objects import Body
from gureum.services.objects.errors import IncompleteBody
from tests.gateway.conftest import Server, error_of, unique

MB = 1024 * 1024


class _Raw(io.BytesIO):
    def stream(self, amt: int = 65536, decode_content: bool = True) -> Iterator[bytes]:
        while chunk := self.read(amt):
            yield chunk


def https_shaped_client(server: Server, tamper: bool = False) -> Any:
    """A boto3 client that encodes requests as it does for https (aws-chunked with a trailing
    checksum) and sends them to the server over plain http, through httpx."""
    client = boto3.client(
        "s3",
        endpoint_url=server.url.replace("http://", "https://"),
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )

    def send(request: Any, **kwargs: Any) -> AWSResponse:
        body = request.body
        data = body.read() if hasattr(body, "read") else (body or b"")
        if tamper:
            data = data.replace(b"hello", b"HELLO")
        headers = {k: v for k, v in request.headers.items() if k.lower() != "transfer-encoding"}
        pieces = [data[i : i + 7000] for i in range(0, len(data), 7000)]  # HTTP chunked too
        response = httpx.request(
            request.method,
            request.url.replace("https://", "http://"),
            headers=headers,
            content=iter(pieces) if pieces else b"",
        )
        return AWSResponse(
            request.url, response.status_code, response.headers, _Raw(response.content)
        )

    client.meta.events.register("before-send", send)
    server.clients.append(client)
    return client


@pytest.fixture(scope="module")
def bucket(server: Server) -> str:
    name = unique("chunked")
    server.client("s3", s3={"addressing_style": "path"}).create_bucket(Bucket=name)
    return name


def test_botocore_aws_chunked_uploads_are_decoded(server: Server, bucket: str) -> None:
    s3 = https_shaped_client(server)
    plain = server.client("s3", s3={"addressing_style": "path"})
    data = os.urandom(3 * MB + 17)
    put = s3.put_object(Bucket=bucket, Key="chunked.bin", Body=data)
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert put["ChecksumCRC32"]
    got = plain.get_object(Bucket=bucket, Key="chunked.bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ChecksumCRC32"] == put["ChecksumCRC32"]
    sha = s3.put_object(Bucket=bucket, Key="sha.txt", Body=b"hello", ChecksumAlgorithm="SHA256")
    assert sha["ChecksumSHA256"] == "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="CRC32")
    part = s3.upload_part(
        Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=b"hello part"
    )
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload["UploadId"],
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": part["ETag"], "ChecksumCRC32": part["ChecksumCRC32"]}
            ]
        },
    )
    assert done["ChecksumCRC32"].endswith("-1")
    assert plain.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"hello part"


def test_a_body_that_does_not_match_its_trailer_is_refused(server: Server, bucket: str) -> None:
    s3 = https_shaped_client(server, tamper=True)
    with pytest.raises(ClientError) as error:
        s3.put_object(Bucket=bucket, Key="tampered", Body=b"hello world")
    assert error_of(error)[:2] == ("BadDigest", 400)
    plain = server.client("s3", s3={"addressing_style": "path"})
    with pytest.raises(ClientError) as missing:
        plain.head_object(Bucket=bucket, Key="tampered")
    assert error_of(missing)[1] == 404


async def _feed(decoder: AwsChunked, pieces: list[bytes]) -> bytes:
    async def raw() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    return b"".join([chunk async for chunk in decoder.chunks(raw())])


async def _nothing() -> AsyncIterator[bytes]:
    for chunk in ():
        yield chunk


async def test_decoding_does_not_depend_on_where_the_network_splits() -> None:
    encoded = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"
    for size in (1, 2, 3, 7, len(encoded)):
        body = Body(_nothing(), checksum_algorithm="CRC32")
        decoder = AwsChunked(body, 11, None)
        pieces = [encoded[i : i + size] for i in range(0, len(encoded), size)]
        assert await _feed(decoder, pieces) == b"hello world"
        assert body.checksum == "DUoRhQ=="


async def test_broken_framing_is_an_incomplete_body() -> None:
    for encoded in (b"5\r\nhello\r\n", b"zz\r\nhello\r\n0\r\n\r\n", b"3\r\nhello\r\n0\r\n\r\n"):
        with pytest.raises(IncompleteBody):
            await _feed(AwsChunked(Body(_nothing()), None, None), [encoded])
    with pytest.raises(IncompleteBody):  # shorter than x-amz-decoded-content-length
        await _feed(AwsChunked(Body(_nothing()), 99, None), [b"1\r\na\r\n0\r\n\r\n"])


def _signing_key(secret: str, date: str) -> bytes:
    key = hmac.digest(f"AWS4{secret}".encode(), date.encode(), "sha256")
    for part in (b"us-east-1", b"s3", b"aws4_request"):
        key = hmac.digest(key, part, "sha256")
    return key


async def test_chunk_signatures_match_aws_published_example() -> None:
    """The example of AWS's "Signature Calculations for the Authorization Header: Transferring
    Payload in Multiple Chunks": 64 KB then 1 KB of 'a', seed and chunk signatures as published."""
    key = _signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524")
    seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    chunks = [
        (b"a" * 65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
        (b"a" * 1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
        (b"", "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"),
    ]
    encoded = b"".join(
        f"{len(data):x};chunk-signature={signature}\r\n".encode() + data + b"\r\n"
        for data, signature in chunks
    )

    def signatures() -> ChunkSignatures:
        scope = "20130524/us-east-1/s3/aws4_request"
        return ChunkSignatures(key, "20130524T000000Z", scope, seed)

    decoded = await _feed(AwsChunked(Body(_nothing()), 66560, signatures()), [encoded])
    assert decoded == b"a" * 66560
    with pytest.raises(SignatureDoesNotMatch):
        await _feed(
            AwsChunked(Body(_nothing()), None, signatures()), [encoded.replace(b"aaaa", b"aaab", 1)]
        )
