"""What the object store hands in and out: objects, buckets, uploads, parts, listings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

# One owner for everything: gureum has no accounts (S3 shows a canonical user id and a name).
OWNER_ID = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"
OWNER_NAME = "gureum"
REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class Checksum:
    """An object's or part's flexible checksum: ``value`` is base64 (with ``-N`` if COMPOSITE)."""

    algorithm: str  # CRC32, CRC32C, CRC64NVME, SHA1, SHA256, SHA512, MD5
    value: str
    type: str = "FULL_OBJECT"  # or COMPOSITE (a multipart object's checksum of its parts')


@dataclass(frozen=True, slots=True)
class Attributes:
    """What a writer says about an object besides its bytes."""

    content_type: str = "binary/octet-stream"  # S3's default when none is sent
    metadata: Mapping[str, str] = field(default_factory=dict)  # x-amz-meta-*, names lower-case
    # Cache-Control, Content-Disposition, Content-Encoding, Content-Language, Expires: stored
    # and returned as sent.
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str  # unquoted: MD5 hex, or md5-of-md5s-N for a multipart object
    last_modified: float
    attributes: Attributes
    checksum: Checksum | None
    parts: int  # 0 for an object written in one piece
    file: str  # its data file, relative to the store's data directory


@dataclass(slots=True)
class Body:
    """A request body on its way in, with what its sender claimed about it.

    ``checksum`` may arrive after the bytes (an aws-chunked trailer): whoever decodes the body
    sets it before ``chunks`` ends."""

    chunks: AsyncIterator[bytes]
    content_md5: str | None = None  # base64, from Content-MD5
    checksum_algorithm: str | None = None  # the one to compute, upper case
    checksum: str | None = None  # the value the sender computed (base64)
    content_sha256: str | None = None  # hex, when the sender signed the payload's hash


@dataclass(frozen=True, slots=True)
class Requester:
    """Who made a request, as S3 event records tell it."""

    source_ip: str = "127.0.0.1"
    request_id: str = ""
    host_id: str = ""
    principal_id: str = OWNER_NAME


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    created: float


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of ListObjects: ``contents`` and ``prefixes`` are in key order; ``last`` is the
    last key or common prefix of the page (where the next one starts) when truncated."""

    contents: list[ObjectInfo]
    prefixes: list[str]
    truncated: bool
    last: str | None


@dataclass(frozen=True, slots=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    initiated: float
    attributes: Attributes
    checksum_algorithm: str  # "" when none was asked for
    checksum_type: str  # COMPOSITE or FULL_OBJECT ("" without an algorithm)


@dataclass(frozen=True, slots=True)
class Part:
    number: int
    size: int
    etag: str  # unquoted MD5 hex
    last_modified: float
    checksum: str  # base64 of the upload's algorithm, "" without one
    file: str


@dataclass(frozen=True, slots=True)
class CompletedPart:
    """A part as CompleteMultipartUpload names it."""

    number: int
    etag: str
    checksums: Mapping[str, str] = field(default_factory=dict)  # algorithm -> base64


async def no_body() -> AsyncIterator[bytes]:
    """An empty body (for a Body whose bytes come from elsewhere)."""
    nothing: tuple[bytes, ...] = ()
    for chunk in nothing:
        yield chunk
