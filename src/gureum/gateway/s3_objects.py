"""S3 object operations: put, get (ranges), head, copy, delete one or many."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

from ..services.objects import Attributes, ObjectInfo
from ..services.objects.errors import (
    InvalidArgument,
    MalformedXML,
    PreconditionFailed,
    S3Error,
    Unsupported,
)
from . import s3_xml
from .s3_body import read_small, request_body
from .s3_http import Reply, S3Request

# Headers stored with an object and returned as they were sent.
STORED_HEADERS = (
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
)
# GetObject's response-* parameters, which override a stored header in one reply.
OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
MAX_METADATA_BYTES = 2048
MAX_DELETE_KEYS = 1000


class MetadataTooLarge(S3Error):
    error_type = "MetadataTooLarge"
    status = 400


class NotModified(S3Error):
    error_type = "NotModified"
    status = 304


def attributes(headers: Mapping[str, str]) -> Attributes:
    """What a PutObject, CopyObject (REPLACE) or CreateMultipartUpload says about its object."""
    metadata: dict[str, str] = {}
    stored: dict[str, str] = {}
    for name, value in headers.items():
        if name.startswith("x-amz-meta-"):
            metadata[name.removeprefix("x-amz-meta-")] = value
        elif name in STORED_HEADERS:
            stored[name] = value
    encoding = [e.strip() for e in stored.get("content-encoding", "").split(",")]
    encoding = [e for e in encoding if e and e != "aws-chunked"]  # the framing, not the object's
    if encoding:
        stored["content-encoding"] = ",".join(encoding)
    else:
        stored.pop("content-encoding", None)
    if sum(len(k) + len(v) for k, v in metadata.items()) > MAX_METADATA_BYTES:
        raise MetadataTooLarge(
            "Your metadata headers exceed the maximum allowed metadata size.",
            MaxSizeAllowed=str(MAX_METADATA_BYTES),
        )
    content_type = headers.get("content-type") or "binary/octet-stream"
    return Attributes(content_type, metadata, stored)


def checksum_headers(info: ObjectInfo) -> list[tuple[str, str]]:
    if info.checksum is None:
        return []
    return [
        (f"x-amz-checksum-{info.checksum.algorithm.lower()}", info.checksum.value),
        ("x-amz-checksum-type", info.checksum.type),
    ]


def object_headers(info: ObjectInfo) -> list[tuple[str, str]]:
    headers = [
        ("ETag", f'"{info.etag}"'),
        ("Last-Modified", s3_xml.http_date(info.last_modified)),
        ("Accept-Ranges", "bytes"),
    ]
    headers += [(name, value) for name, value in info.attributes.headers.items()]
    headers += [(f"x-amz-meta-{name}", value) for name, value in info.attributes.metadata.items()]
    if info.parts:
        headers.append(("x-amz-mp-parts-count", str(info.parts)))
    return headers


async def put_object(request: S3Request) -> Reply:
    _refuse_conditional_write(request)
    body = request_body(request.headers, request.receive)
    info = await request.objects.put_object(
        request.bucket, request.key, body, attributes(request.headers), request.requester
    )
    return Reply(headers=[("ETag", f'"{info.etag}"'), *checksum_headers(info)])


async def get_object(request: S3Request, head: bool = False) -> Reply:
    if "partNumber" in request.query:
        raise Unsupported("GetObject of one part (partNumber) is not supported by gureum.")
    objects = request.objects
    if head:
        info = await objects.head_object(request.bucket, request.key)
        _check_conditions(request, info)
        reading = None
        status, length = 200, info.size
    else:
        reading = await objects.get_object(
            request.bucket, request.key, request.headers.get("range")
        )
        info = reading.info
        try:
            _check_conditions(request, info)
        except BaseException:
            reading.close()
            raise
        partial = reading.length != info.size or (reading.start != 0)
        status, length = (206 if partial else 200), reading.length
    headers = object_headers(info)
    if reading is not None and status == 206:
        headers.append(("Content-Range", f"bytes {reading.start}-{reading.stop - 1}/{info.size}"))
    elif request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
        headers += checksum_headers(info)
    content_type = info.attributes.content_type
    for parameter, header in OVERRIDES.items():
        if parameter in request.query:
            headers = [(k, v) for k, v in headers if k.lower() != header.lower()]
            if header == "Content-Type":
                content_type = request.query[parameter]
            else:
                headers.append((header, request.query[parameter]))
    if head:
        return Reply(status=status, headers=headers, content_type=content_type, length=length)
    return Reply(status=status, headers=headers, reading=reading, content_type=content_type)


async def head_object(request: S3Request) -> Reply:
    return await get_object(request, head=True)


def _check_conditions(request: S3Request, info: ObjectInfo) -> None:
    etag = f'"{info.etag}"'
    if_match = request.headers.get("if-match")
    if if_match is not None and etag not in _etags(if_match):
        raise PreconditionFailed(
            "At least one of the pre-conditions you specified did not hold", Condition="If-Match"
        )
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and (
        etag in _etags(if_none_match) or if_none_match.strip() == "*"
    ):
        raise NotModified("Not Modified")


def _etags(header: str) -> set[str]:
    return {f'"{tag.strip().strip(chr(34))}"' for tag in header.split(",")}


def _refuse_conditional_write(request: S3Request) -> None:
    for name in ("if-match", "if-none-match"):
        if name in request.headers:
            raise Unsupported(f"Conditional writes ({name}) are not supported by gureum.")


async def copy_object(request: S3Request) -> Reply:
    _refuse_conditional_write(request)
    source = copy_source(request.headers["x-amz-copy-source"])
    directive = request.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise InvalidArgument(
            "Unknown metadata directive.",
            ArgumentName="x-amz-metadata-directive",
            ArgumentValue=directive,
        )
    for name in request.headers:
        if name.startswith("x-amz-copy-source-if"):
            raise Unsupported(f"Conditional copies ({name}) are not supported by gureum.")
    new = attributes(request.headers) if directive == "REPLACE" else None
    info = await request.objects.copy_object(
        source, request.bucket, request.key, new, request.requester
    )
    doc = s3_xml.root("CopyObjectResult")
    s3_xml.add(doc, "ETag", f'"{info.etag}"')
    s3_xml.add(doc, "LastModified", s3_xml.iso(info.last_modified))
    if info.checksum is not None:
        s3_xml.add(doc, "ChecksumType", info.checksum.type)
        s3_xml.add(doc, f"Checksum{info.checksum.algorithm}", info.checksum.value)
    return Reply(body=s3_xml.serialize(doc))


def copy_source(header: str) -> tuple[str, str]:
    """(bucket, key) of ``x-amz-copy-source``: ``[/]bucket/key[?versionId=...]``, URL-encoded."""
    path, _, query = header.partition("?")
    if query and query not in ("versionId=null",):
        raise Unsupported("Copying a version of an object is not supported by gureum.")
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    if not bucket or not key:
        raise InvalidArgument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            ArgumentName="x-amz-copy-source",
            ArgumentValue=header,
        )
    return bucket, key


async def delete_object(request: S3Request) -> Reply:
    await request.objects.delete_object(request.bucket, request.key, request.requester)
    return Reply(status=204)


async def delete_objects(request: S3Request) -> Reply:
    body = await read_small(request.headers, request.receive, 4 * 1024 * 1024)
    document = s3_xml.parse(body, "Delete")
    quiet = s3_xml.text(document, "Quiet").lower() == "true"
    keys = [s3_xml.text(element, "Key") for element in document.iterfind("Object")]
    if not keys or len(keys) > MAX_DELETE_KEYS:
        raise MalformedXML(
            "The XML you provided was not well-formed or did not validate against our published "
            "schema"
        )
    await request.objects.delete_objects(request.bucket, keys, request.requester)
    doc = s3_xml.root("DeleteResult")
    if not quiet:
        for key in keys:
            s3_xml.add(s3_xml.add(doc, "Deleted"), "Key", key)
    return Reply(body=s3_xml.serialize(doc))
