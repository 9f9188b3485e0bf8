"""Completing a multipart upload: which stored parts the client named, and joining them into
one object file with S3's ETag (MD5 of the parts' MD5s, ``-N``) and checksum."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from . import checksums
from .digests import Digests
from .errors import EntityTooSmall, InvalidPart, NoSuchUpload
from .files import Layout, Writer
from .types import Body, Checksum, CompletedPart, ObjectInfo, Part, Upload, no_body


def choose(
    upload: Upload, stored: Sequence[Part], wanted: Sequence[CompletedPart], *, min_part_size: int
) -> list[Part]:
    """The stored parts ``wanted`` names, in its order. InvalidPart for one not uploaded or
    named with another ETag or checksum; EntityTooSmall for one but the last under the minimum.
    (The caller checks the order.)"""
    by_number = {part.number: part for part in stored}
    algorithm = upload.checksum_algorithm
    chosen: list[Part] = []
    for named in wanted:
        found = by_number.get(named.number)
        claimed = named.checksums.get(algorithm) if algorithm else None
        if (
            found is None
            or found.etag != named.etag.strip('"')
            or (claimed and claimed != found.checksum)
        ):
            raise InvalidPart(
                "One or more of the specified parts could not be found. The part may not "
                "have been uploaded, or the specified entity tag may not match the part's "
                "entity tag.",
                UploadId=upload.upload_id,
                PartNumber=str(named.number),
                ETag=named.etag,
            )
        chosen.append(found)
    for part in chosen[:-1]:
        if part.size < min_part_size:
            raise EntityTooSmall(
                "Your proposed upload is smaller than the minimum allowed size",
                ProposedSize=str(part.size),
                MinSizeAllowed=str(min_part_size),
                PartNumber=str(part.number),
                ETag=part.etag,
            )
    return chosen


def join(layout: Layout, upload: Upload, chosen: Sequence[Part], *, now: float) -> ObjectInfo:
    """The parts' bytes joined into a new data file (kernel to kernel unless a FULL_OBJECT
    checksum must be computed on the way); the object it makes, not yet committed. NoSuchUpload
    if a part's file went away meanwhile (a concurrent complete or abort)."""
    md5s = b"".join(bytes.fromhex(part.etag) for part in chosen)
    etag = f"{hashlib.md5(md5s, usedforsecurity=False).hexdigest()}-{len(chosen)}"
    algorithm = upload.checksum_algorithm
    full_object = upload.checksum_type == "FULL_OBJECT"
    digests = Digests(Body(no_body(), checksum_algorithm=algorithm if full_object else None))
    writer = Writer(layout, digests)
    try:
        for part in chosen:
            writer.append(part.file)
        file = writer.finish()
    except FileNotFoundError:
        writer.discard()
        raise NoSuchUpload(
            "The specified upload does not exist. The upload ID may be invalid, or the upload "
            "may have been aborted or completed.",
            UploadId=upload.upload_id,
        ) from None
    except BaseException:
        writer.discard()
        raise
    checksum = None
    if algorithm and digests.checksum is not None:
        checksum = Checksum(algorithm, checksums.encode(digests.checksum.digest()))
    elif algorithm and all(part.checksum for part in chosen):
        value = checksums.composite(algorithm, [part.checksum for part in chosen])
        checksum = Checksum(algorithm, value, "COMPOSITE")
    return ObjectInfo(
        bucket=upload.bucket,
        key=upload.key,
        size=writer.size,
        etag=etag,
        last_modified=now,
        attributes=upload.attributes,
        checksum=checksum,
        parts=len(chosen),
        file=file,
    )
