"""Bucket names and object keys, checked by S3's rules."""

from __future__ import annotations

import re

from .errors import InvalidArgument, InvalidBucketName, KeyTooLongError

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

MAX_KEY_BYTES = 1024


def check_bucket_name(name: str) -> str:
    """``name`` if S3 allows it for a new bucket; InvalidBucketName otherwise: 3-63 characters of
    lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit, no
    two dots in a row, not an IP address, none of S3's reserved prefixes and suffixes."""
    if (
        not _BUCKET.fullmatch(name)
        or ".." in name
        or _IP_ADDRESS.fullmatch(name)
        or name.startswith(_RESERVED_PREFIXES)
        or name.endswith(_RESERVED_SUFFIXES)
    ):
        raise InvalidBucketName("The specified bucket is not valid.", BucketName=name)
    return name


def check_key(key: str) -> str:
    """``key`` if S3 allows it: 1 to 1024 bytes of UTF-8."""
    if not key:
        raise InvalidArgument("An object key must not be empty.")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidArgument("An object key must be valid UTF-8.") from None
    if size > MAX_KEY_BYTES:
        raise KeyTooLongError("Your key is too long", Size=str(size), MaxSizeAllowed="1024")
    return key
