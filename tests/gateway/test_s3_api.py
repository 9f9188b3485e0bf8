"""The S3 API with real boto3 clients against a real `gureum serve`: every operation and error."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.gateway.conftest import Server, error_of, unique

MB = 1024 * 1024


@pytest.fixture(scope="module")
def s3(server: Server) -> Any:
    return server.client("s3", s3={"addressing_style": "path"})


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = unique("bucket")
    s3.create_bucket(Bucket=name)
    yield name


def test_buckets(s3: Any) -> None:
    name = unique("bkt")
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    with pytest.raises(ClientError) as twice:
        s3.create_bucket(Bucket=name)
    assert error_of(twice)[:2] == ("BucketAlreadyOwnedByYou", 409)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as not_empty:
        s3.delete_bucket(Bucket=name)
    assert error_of(not_empty)[:2] == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as gone:
        s3.head_bucket(Bucket=name)
    assert error_of(gone)[:2] == ("404", 404)
    with pytest.raises(ClientError) as missing:
        s3.list_objects_v2(Bucket=name)
    assert error_of(missing)[:2] == ("NoSuchBucket", 404)


@pytest.mark.parametrize(
    "name", ["ab", "UPPER", "a_b_c", "-start", "end-", "a..b", "1.2.3.4", "x" * 64]
)
def test_invalid_bucket_names(s3: Any, name: str) -> None:
    with pytest.raises(ClientError) as error:
        s3.create_bucket(Bucket=name)
    assert error_of(error)[:2] == ("InvalidBucketName", 400)


def test_put_get_head_with_metadata(s3: Any, bucket: str) -> None:
    data = os.urandom(100_000)
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/photo 1+.jpg",
        Body=data,
        ContentType="image/jpeg",
        Metadata={"owner": "ana", "Camera": "x100"},
        CacheControl="max-age=60",
    )
    etag = f'"{hashlib.md5(data).hexdigest()}"'
    assert put["ETag"] == etag
    assert put["ChecksumCRC32"]  # botocore sends CRC32 by default; S3 echoes it
    got = s3.get_object(Bucket=bucket, Key="dir/photo 1+.jpg")
    assert got["Body"].read() == data
    assert got["ETag"] == etag
    assert got["ContentType"] == "image/jpeg"
    assert got["Metadata"] == {"owner": "ana", "camera": "x100"}
    assert got["CacheControl"] == "max-age=60"
    assert got["ChecksumCRC32"] == put["ChecksumCRC32"]  # and botocore verified the body with it
    head = s3.head_object(Bucket=bucket, Key="dir/photo 1+.jpg")
    assert head["ContentLength"] == len(data) and head["ETag"] == etag
    plain = s3.put_object(Bucket=bucket, Key="plain", Body=b"")
    assert plain["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    empty = s3.get_object(Bucket=bucket, Key="plain")
    assert empty["Body"].read() == b"" and empty["ContentType"] == "binary/octet-stream"


def test_missing_keys(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as get:
        s3.get_object(Bucket=bucket, Key="nothing")
    assert error_of(get)[:2] == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as head:
        s3.head_object(Bucket=bucket, Key="nothing")
    assert error_of(head)[:2] == ("404", 404)
    with pytest.raises(ClientError) as no_bucket:
        s3.get_object(Bucket="no-such-bucket-here", Key="k")
    assert error_of(no_bucket)[:2] == ("NoSuchBucket", 404)
    s3.delete_object(Bucket=bucket, Key="nothing")  # no error, as on S3


def test_ranges(s3: Any, bucket: str) -> None:
    data = bytes(range(256)) * 40
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    for header, expected, content_range in [
        ("bytes=0-9", data[:10], "bytes 0-9/10240"),
        ("bytes=10230-", data[10230:], "bytes 10230-10239/10240"),
        ("bytes=-16", data[-16:], "bytes 10224-10239/10240"),
        ("bytes=100-99999", data[100:], "bytes 100-10239/10240"),
    ]:
        got = s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"] == content_range
        assert got["Body"].read() == expected
    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=20000-")
    assert error_of(error)[:2] == ("InvalidRange", 416)
    whole = s3.get_object(Bucket=bucket, Key="r", Range="bytes=abc")  # ignored, as S3 does
    assert whole["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert whole["Body"].read() == data


def test_large_object_streams_both_ways(s3: Any, bucket: str) -> None:
    data = os.urandom(9 * MB)
    s3.put_object(Bucket=bucket, Key="big", Body=io.BytesIO(data))
    got = s3.get_object(Bucket=bucket, Key="big")
    assert hashlib.md5(got["Body"].read()).hexdigest() == hashlib.md5(data).hexdigest()
    middle = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={4 * MB}-{6 * MB - 1}")
    assert middle["Body"].read() == data[4 * MB : 6 * MB]


def test_bad_digests(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as md5:
        s3.put_object(Bucket=bucket, Key="d", Body=b"data", ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg==")
    assert error_of(md5)[:2] == ("BadDigest", 400)
    with pytest.raises(ClientError) as crc:
        s3.put_object(Bucket=bucket, Key="d", Body=b"data", ChecksumCRC32="AAAAAA==")
    assert error_of(crc)[:2] == ("BadDigest", 400)
    sha = s3.put_object(Bucket=bucket, Key="d", Body=b"data", ChecksumAlgorithm="SHA256")
    assert sha["ChecksumSHA256"] == "Om6weQ85rIfJTzhWst0sXREOaBFgImGpqSPTuyOtyLc="
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=bucket, Key="never-written")
    assert error_of(missing)[1] == 404


def test_copy(s3: Any, bucket: str) -> None:
    s3.put_object(
        Bucket=bucket, Key="src", Body=b"payload", Metadata={"a": "1"}, ContentType="text/plain"
    )
    other = unique("copies")
    s3.create_bucket(Bucket=other)
    copied = s3.copy_object(Bucket=other, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"payload").hexdigest()}"'
    head = s3.head_object(Bucket=other, Key="dst")
    assert head["Metadata"] == {"a": "1"} and head["ContentType"] == "text/plain"
    s3.copy_object(
        Bucket=bucket,
        Key="src",
        CopySource=f"{bucket}/src",
        MetadataDirective="REPLACE",
        Metadata={"b": "2"},
        ContentType="application/json",
    )
    head = s3.head_object(Bucket=bucket, Key="src")
    assert head["Metadata"] == {"b": "2"} and head["ContentType"] == "application/json"
    assert s3.get_object(Bucket=bucket, Key="src")["Body"].read() == b"payload"
    with pytest.raises(ClientError) as itself:
        s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src")
    assert error_of(itself)[:2] == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as missing:
        s3.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}/nothing")
    assert error_of(missing)[:2] == ("NoSuchKey", 404)


def test_delete_objects(s3: Any, bucket: str) -> None:
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    result = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "zz"}]}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["a", "b", "zz"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_list_objects_v2(s3: Any, bucket: str) -> None:
    keys = ["a b", "a+b", "dir/1", "dir/2", "dir/sub/3", "été.txt", "z"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b".")
    listed = s3.list_objects_v2(Bucket=bucket)  # boto3 asks for EncodingType=url and decodes
    assert [o["Key"] for o in listed["Contents"]] == sorted(keys, key=lambda k: k.encode())
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["dir/"]
    assert "dir/1" not in [o["Key"] for o in top["Contents"]]
    nested = s3.list_objects_v2(Bucket=bucket, Prefix="dir/", Delimiter="/")
    assert [o["Key"] for o in nested["Contents"]] == ["dir/1", "dir/2"]
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["dir/sub/"]
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="dir/2")
    assert [o["Key"] for o in after["Contents"]] == ["dir/sub/3", "z", "été.txt"]
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 2}
    )
    seen, counts = [], []
    for page in pages:
        counts.append(page["KeyCount"])
        seen += [o["Key"] for o in page.get("Contents", [])]
        seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    assert sorted(seen) == sorted(["a b", "a+b", "dir/", "z", "été.txt"])
    assert counts == [2, 2, 1]
    raw = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert raw["KeyCount"] == 0 and raw["IsTruncated"]
    v1 = s3.list_objects(Bucket=bucket, Prefix="dir/")
    assert [o["Key"] for o in v1["Contents"]] == ["dir/1", "dir/2", "dir/sub/3"]


def test_list_objects_v2_url_encoding_on_the_wire(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a b+c/ü", Body=b".")
    import httpx

    raw = httpx.get(f"{server.url}/{bucket}", params={"list-type": "2", "encoding-type": "url"})
    assert "<Key>a%20b%2Bc/%C3%BC</Key>" in raw.text
    plain = httpx.get(f"{server.url}/{bucket}", params={"list-type": "2"})
    assert "<Key>a b+c/ü</Key>" in plain.text


def test_multipart_with_upload_file(s3: Any, bucket: str, tmp_path: Any) -> None:
    path = tmp_path / "parts.bin"
    data = os.urandom(12 * MB)
    path.write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB)
    s3.upload_file(str(path), bucket, "parts.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="parts.bin", ChecksumMode="ENABLED")
    md5s = b"".join(hashlib.md5(data[i : i + 5 * MB]).digest() for i in range(0, len(data), 5 * MB))
    assert head["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    assert head["PartsCount"] == 3
    assert head["ChecksumCRC32"].endswith("-3") and head["ChecksumType"] == "COMPOSITE"
    target = tmp_path / "back.bin"
    s3.download_file(bucket, "parts.bin", str(target), Config=config)
    assert target.read_bytes() == data


def test_multipart_by_hand_and_its_errors(s3: Any, bucket: str) -> None:
    created = s3.create_multipart_upload(
        Bucket=bucket, Key="mp", ContentType="video/mp4", Metadata={"m": "1"}
    )
    upload_id = created["UploadId"]
    small = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"tiny")
    last = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=2, Body=b"end")
    parts = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 4), (2, 3)]

    def complete(*entries: tuple[int, str]) -> Any:
        return s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in entries]},
        )

    with pytest.raises(ClientError) as too_small:
        complete((1, small["ETag"]), (2, last["ETag"]))
    assert error_of(too_small)[:2] == ("EntityTooSmall", 400)
    with pytest.raises(ClientError) as order:
        complete((2, last["ETag"]), (1, small["ETag"]))
    assert error_of(order)[:2] == ("InvalidPartOrder", 400)
    with pytest.raises(ClientError) as wrong:
        complete((1, '"00000000000000000000000000000000"'))
    assert error_of(wrong)[:2] == ("InvalidPart", 400)
    big = s3.upload_part(
        Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"x" * (5 * MB)
    )
    done = complete((1, big["ETag"]), (2, last["ETag"]))
    assert done["ETag"].endswith('-2"')
    head = s3.head_object(Bucket=bucket, Key="mp")
    assert head["ContentLength"] == 5 * MB + 3 and head["ContentType"] == "video/mp4"
    assert head["Metadata"] == {"m": "1"}
    with pytest.raises(ClientError) as finished:
        s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert error_of(finished)[:2] == ("NoSuchUpload", 404)

    aborted = s3.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="gone", UploadId=aborted, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=aborted)
    with pytest.raises(ClientError) as no_upload:
        s3.upload_part(Bucket=bucket, Key="gone", UploadId=aborted, PartNumber=2, Body=b"x")
    assert error_of(no_upload)[:2] == ("NoSuchUpload", 404)


def test_notification_configuration(s3: Any, bucket: str) -> None:
    function = "arn:aws:lambda:us-east-1:000000000000:function:thumbs"
    queue = "arn:aws:sqs:us-east-1:000000000000:uploads"
    config = {
        "LambdaFunctionConfigurations": [
            {
                "Id": "thumbs",
                "LambdaFunctionArn": function,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {
                    "Key": {
                        "FilterRules": [
                            {"Name": "prefix", "Value": "photos/"},
                            {"Name": "suffix", "Value": ".jpg"},
                        ]
                    }
                },
            }
        ],
        "QueueConfigurations": [
            {"Id": "gone", "QueueArn": queue, "Events": ["s3:ObjectRemoved:Delete"]}
        ],
    }
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    got.pop("ResponseMetadata")
    assert got == config
    bad = {
        "QueueConfigurations": [
            {"QueueArn": "arn:aws:sqs:nowhere", "Events": ["s3:ObjectCreated:*"]}
        ]
    }
    with pytest.raises(ClientError) as invalid:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=bad)
    assert error_of(invalid)[:2] == ("InvalidArgument", 400)
    topic = {
        "TopicConfigurations": [
            {"TopicArn": "arn:aws:sns:us-east-1:000000000000:t", "Events": ["s3:ObjectCreated:*"]}
        ]
    }
    with pytest.raises(ClientError) as unsupported:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=topic)
    assert error_of(unsupported)[:2] == ("NotImplemented", 501)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    cleared = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert "LambdaFunctionConfigurations" not in cleared


def test_malformed_xml_and_unsupported_operations(server: Server, s3: Any, bucket: str) -> None:
    import httpx

    broken = httpx.put(
        f"{server.url}/{bucket}?notification", content=b"<NotificationConfiguration>"
    )
    assert broken.status_code == 400 and "<Code>MalformedXML</Code>" in broken.text
    with pytest.raises(ClientError) as acl:
        s3.get_bucket_acl(Bucket=bucket)
    code, status, message = error_of(acl)
    assert (code, status) == ("NotImplemented", 501) and "?acl" in message
    with pytest.raises(ClientError) as tagging:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": []})
    assert error_of(tagging)[:2] == ("NotImplemented", 501)
    with pytest.raises(ClientError) as versioning:
        s3.get_bucket_versioning(Bucket=bucket)
    assert error_of(versioning)[:2] == ("NotImplemented", 501)


def test_presigned_get(server: Server, s3: Any, bucket: str) -> None:
    import httpx

    s3.put_object(Bucket=bucket, Key="shared.txt", Body=b"shared")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared.txt"})
    assert httpx.get(url).content == b"shared"
