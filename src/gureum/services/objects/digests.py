"""A body's digests, computed as it arrives and checked against what its sender claimed."""

from __future__ import annotations

import base64
import binascii
import hashlib

from . import checksums
from .errors import BadDigest, InvalidDigest, S3Error
from .types import Body, Checksum


class ContentSha256Mismatch(S3Error):
    error_type = "XAmzContentSHA256Mismatch"
    status = 400


class Digests:
    """MD5 (the ETag), the flexible checksum ``body`` asks for, and SHA-256 when the sender
    signed the payload's hash (``x-amz-content-sha256``)."""

    def __init__(self, body: Body) -> None:
        self.body = body
        self.md5 = hashlib.md5(usedforsecurity=False)
        algorithm = body.checksum_algorithm
        self.checksum = checksums.new(algorithm) if algorithm else None
        self.sha256 = hashlib.sha256() if body.content_sha256 else None
        self.size = 0

    def update(self, chunk: bytes | memoryview) -> None:
        self.md5.update(chunk)
        if self.checksum is not None:
            self.checksum.update(chunk)
        if self.sha256 is not None:
            self.sha256.update(chunk)
        self.size += len(chunk)

    def verify(self) -> Checksum | None:
        """The body's flexible checksum, if one was asked for. BadDigest (or
        XAmzContentSHA256Mismatch) if a digest its sender claimed does not match the bytes;
        InvalidDigest for a Content-MD5 that is not one."""
        body = self.body
        if body.content_md5 is not None:
            try:
                claimed = base64.b64decode(body.content_md5, validate=True)
            except binascii.Error:
                claimed = b""
            if len(claimed) != 16:
                raise InvalidDigest("The Content-MD5 you specified was invalid.")
            if claimed != self.md5.digest():
                raise BadDigest("The Content-MD5 you specified did not match what we received.")
        if self.sha256 is not None and self.sha256.hexdigest() != body.content_sha256:
            raise ContentSha256Mismatch(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            )
        if self.checksum is None or body.checksum_algorithm is None:
            return None
        value = checksums.encode(self.checksum.digest())
        if body.checksum is not None and body.checksum != value:
            raise BadDigest(
                f"The {body.checksum_algorithm} you specified did not match the calculated "
                "checksum."
            )
        return Checksum(body.checksum_algorithm, value)
