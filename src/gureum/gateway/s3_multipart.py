"""S3 multipart uploads: create, upload a part, list parts, complete, abort."""

from __future__ import annotations

from urllib.parse import quote

from ..services.objects import CompletedPart
from ..services.objects.checksums import ALGORITHMS
from ..services.objects.errors import InvalidArgument, InvalidRequest, Unsupported
from ..services.objects.types import OWNER_ID, OWNER_NAME
from . import s3_xml
from .s3_body import read_small, request_body
from .s3_http import Reply, S3Request, query_int
from .s3_objects import attributes

MAX_COMPLETE_BYTES = 8 * 1024 * 1024  # 10,000 parts with their checksums


async def create_upload(request: S3Request) -> Reply:
    algorithm = request.headers.get("x-amz-checksum-algorithm", "").upper()
    kind = request.headers.get("x-amz-checksum-type", "").upper()
    if algorithm and algorithm not in ALGORITHMS:
        raise Unsupported(f"gureum does not compute {algorithm} checksums.")
    if kind not in ("", "COMPOSITE", "FULL_OBJECT"):
        raise InvalidRequest(f"Value for x-amz-checksum-type header is invalid: {kind}")
    upload = await request.objects.create_upload(
        request.bucket, request.key, attributes(request.headers), algorithm, kind
    )
    doc = s3_xml.root("InitiateMultipartUploadResult")
    s3_xml.add(doc, "Bucket", upload.bucket)
    s3_xml.add(doc, "Key", upload.key)
    s3_xml.add(doc, "UploadId", upload.upload_id)
    headers = []
    if upload.checksum_algorithm:
        headers = [
            ("x-amz-checksum-algorithm", upload.checksum_algorithm),
            ("x-amz-checksum-type", upload.checksum_type),
        ]
    return Reply(headers=headers, body=s3_xml.serialize(doc))


async def upload_part(request: S3Request) -> Reply:
    number = _part_number(request.query.get("partNumber", ""))
    body = request_body(request.headers, request.receive)
    part = await request.objects.upload_part(
        request.bucket, request.key, request.query["uploadId"], number, body
    )
    headers = [("ETag", f'"{part.etag}"')]
    if part.checksum and body.checksum_algorithm:
        headers.append((f"x-amz-checksum-{body.checksum_algorithm.lower()}", part.checksum))
    return Reply(headers=headers)


async def list_parts(request: S3Request) -> Reply:
    after = query_int(request.query, "part-number-marker", 0, 0, 10_000)
    limit = query_int(request.query, "max-parts", 1000, 0, 1000)
    upload, parts, truncated = await request.objects.list_parts(
        request.bucket, request.key, request.query["uploadId"], after, limit
    )
    doc = s3_xml.root("ListPartsResult")
    s3_xml.add(doc, "Bucket", upload.bucket)
    s3_xml.add(doc, "Key", upload.key)
    s3_xml.add(doc, "UploadId", upload.upload_id)
    s3_xml.add(doc, "PartNumberMarker", after)
    if parts:
        s3_xml.add(doc, "NextPartNumberMarker", parts[-1].number)
    s3_xml.add(doc, "MaxParts", limit)
    s3_xml.add(doc, "IsTruncated", truncated)
    for part in parts:
        element = s3_xml.add(doc, "Part")
        s3_xml.add(element, "PartNumber", part.number)
        s3_xml.add(element, "LastModified", s3_xml.iso(part.last_modified))
        s3_xml.add(element, "ETag", f'"{part.etag}"')
        s3_xml.add(element, "Size", part.size)
        if part.checksum:
            s3_xml.add(element, f"Checksum{upload.checksum_algorithm}", part.checksum)
    for tag in ("Initiator", "Owner"):
        element = s3_xml.add(doc, tag)
        s3_xml.add(element, "ID", OWNER_ID)
        s3_xml.add(element, "DisplayName", OWNER_NAME)
    s3_xml.add(doc, "StorageClass", "STANDARD")
    if upload.checksum_algorithm:
        s3_xml.add(doc, "ChecksumAlgorithm", upload.checksum_algorithm)
        s3_xml.add(doc, "ChecksumType", upload.checksum_type)
    return Reply(body=s3_xml.serialize(doc))


async def complete_upload(request: S3Request) -> Reply:
    body = await read_small(request.headers, request.receive, MAX_COMPLETE_BYTES)
    document = s3_xml.parse(body, "CompleteMultipartUpload")
    parts = []
    for element in document.iterfind("Part"):
        checksums = {
            child.tag.removeprefix("Checksum"): child.text or ""
            for child in element
            if child.tag.startswith("Checksum") and child.tag != "ChecksumType"
        }
        parts.append(
            CompletedPart(
                number=_part_number(s3_xml.text(element, "PartNumber")),
                etag=s3_xml.text(element, "ETag"),
                checksums=checksums,
            )
        )
    info = await request.objects.complete_upload(
        request.bucket, request.key, request.query["uploadId"], parts, request.requester
    )
    doc = s3_xml.root("CompleteMultipartUploadResult")
    s3_xml.add(doc, "Location", f"{request.endpoint}/{info.bucket}/{quote(info.key)}")
    s3_xml.add(doc, "Bucket", info.bucket)
    s3_xml.add(doc, "Key", info.key)
    s3_xml.add(doc, "ETag", f'"{info.etag}"')
    if info.checksum is not None:
        s3_xml.add(doc, f"Checksum{info.checksum.algorithm}", info.checksum.value)
        s3_xml.add(doc, "ChecksumType", info.checksum.type)
    return Reply(body=s3_xml.serialize(doc))


async def abort_upload(request: S3Request) -> Reply:
    await request.objects.abort_upload(request.bucket, request.key, request.query["uploadId"])
    return Reply(status=204)


def _part_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive",
            ArgumentName="partNumber",
            ArgumentValue=text,
        ) from None
