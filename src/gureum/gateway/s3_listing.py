"""ListObjectsV2 and ListObjects (v1): pages of keys and common prefixes."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from urllib.parse import quote
from xml.etree.ElementTree import Element

from ..services.objects import Listing, ObjectInfo
from ..services.objects.errors import InvalidArgument
from ..services.objects.types import OWNER_ID, OWNER_NAME
from . import s3_xml
from .s3_http import Reply, S3Request, query_int

_Encoder = Callable[[str], str]


async def list_objects_v2(request: S3Request) -> Reply:
    query = request.query
    token = query.get("continuation-token")
    start_after = query.get("start-after", "")
    after = _decode_token(token) if token is not None else start_after
    listing, doc, encode = await _list(request, after)
    s3_xml.add(doc, "KeyCount", len(listing.contents) + len(listing.prefixes))
    if token is not None:
        s3_xml.add(doc, "ContinuationToken", token)
    if listing.truncated and listing.last is not None:
        s3_xml.add(doc, "NextContinuationToken", _encode_token(listing.last))
    if start_after:
        s3_xml.add(doc, "StartAfter", encode(start_after))
    _add_entries(doc, listing, encode, owner=query.get("fetch-owner") == "true")
    return Reply(body=s3_xml.serialize(doc))


async def list_objects(request: S3Request) -> Reply:
    marker = request.query.get("marker", "")
    listing, doc, encode = await _list(request, marker)
    s3_xml.add(doc, "Marker", encode(marker))
    if listing.truncated and listing.last is not None and request.query.get("delimiter"):
        s3_xml.add(doc, "NextMarker", encode(listing.last))  # S3 sends it only with a delimiter
    _add_entries(doc, listing, encode, owner=True)
    return Reply(body=s3_xml.serialize(doc))


async def _list(request: S3Request, after: str) -> tuple[Listing, Element, _Encoder]:
    query = request.query
    prefix = query.get("prefix", "")
    delimiter = query.get("delimiter", "")
    max_keys = query_int(query, "max-keys", 1000, 0, 1000)
    encoding = query.get("encoding-type")
    if encoding is not None and encoding != "url":
        raise InvalidArgument(
            "Invalid Encoding Method specified in Request",
            ArgumentName="encoding-type",
            ArgumentValue=encoding,
        )
    encode = _url_encode if encoding == "url" else _as_is
    listing = await request.objects.list_objects(request.bucket, prefix, delimiter, max_keys, after)
    doc = s3_xml.root("ListBucketResult")
    s3_xml.add(doc, "Name", request.bucket)
    s3_xml.add(doc, "Prefix", encode(prefix))
    if delimiter:
        s3_xml.add(doc, "Delimiter", encode(delimiter))
    s3_xml.add(doc, "MaxKeys", max_keys)
    if encoding:
        s3_xml.add(doc, "EncodingType", encoding)
    s3_xml.add(doc, "IsTruncated", listing.truncated)
    return listing, doc, encode


def _add_entries(doc: Element, listing: Listing, encode: _Encoder, owner: bool) -> None:
    for info in listing.contents:
        _add_object(s3_xml.add(doc, "Contents"), info, encode, owner)
    for prefix in listing.prefixes:
        s3_xml.add(s3_xml.add(doc, "CommonPrefixes"), "Prefix", encode(prefix))


def _add_object(entry: Element, info: ObjectInfo, encode: _Encoder, owner: bool) -> None:
    s3_xml.add(entry, "Key", encode(info.key))
    s3_xml.add(entry, "LastModified", s3_xml.iso(info.last_modified))
    s3_xml.add(entry, "ETag", f'"{info.etag}"')
    if info.checksum is not None:
        s3_xml.add(entry, "ChecksumAlgorithm", info.checksum.algorithm)
        s3_xml.add(entry, "ChecksumType", info.checksum.type)
    s3_xml.add(entry, "Size", info.size)
    if owner:
        element = s3_xml.add(entry, "Owner")
        s3_xml.add(element, "ID", OWNER_ID)
        s3_xml.add(element, "DisplayName", OWNER_NAME)
    s3_xml.add(entry, "StorageClass", "STANDARD")


def _url_encode(text: str) -> str:
    # botocore decodes with unquote_plus: "+" must be encoded, "/" may stay.
    return quote(text, safe="/")


def _as_is(text: str) -> str:
    return text


def _encode_token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode()


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidArgument(
            "The continuation token provided is incorrect",
            ArgumentName="continuation-token",
            ArgumentValue=token,
        ) from None
