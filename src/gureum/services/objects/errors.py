"""S3's errors: each class carries S3's error code and HTTP status, as the REST-XML API answers
them (``<Error><Code>NoSuchKey</Code>...``); the gateway serialises any of them as it finds it."""

from __future__ import annotations

from ...errors import GureumError


class S3Error(GureumError):
    """An S3 error. ``details`` are extra elements of the XML error (``BucketName``, ``Key``)."""

    error_type = "InternalError"
    status = 500

    def __init__(self, message: str, **details: str) -> None:
        super().__init__(message)
        self.details = details


class NoSuchBucket(S3Error):
    error_type = "NoSuchBucket"
    status = 404


class NoSuchKey(S3Error):
    error_type = "NoSuchKey"
    status = 404


class NoSuchUpload(S3Error):
    error_type = "NoSuchUpload"
    status = 404


class BucketNotEmpty(S3Error):
    error_type = "BucketNotEmpty"
    status = 409


class BucketAlreadyOwnedByYou(S3Error):
    error_type = "BucketAlreadyOwnedByYou"
    status = 409


class InvalidBucketName(S3Error):
    error_type = "InvalidBucketName"
    status = 400


class InvalidRange(S3Error):
    error_type = "InvalidRange"
    status = 416


class InvalidPart(S3Error):
    error_type = "InvalidPart"
    status = 400


class InvalidPartOrder(S3Error):
    error_type = "InvalidPartOrder"
    status = 400


class EntityTooSmall(S3Error):
    error_type = "EntityTooSmall"
    status = 400


class EntityTooLarge(S3Error):
    error_type = "EntityTooLarge"
    status = 400


class BadDigest(S3Error):
    error_type = "BadDigest"
    status = 400


class InvalidDigest(S3Error):
    error_type = "InvalidDigest"
    status = 400


class InvalidArgument(S3Error):
    error_type = "InvalidArgument"
    status = 400


class InvalidRequest(S3Error):
    error_type = "InvalidRequest"
    status = 400


class IncompleteBody(S3Error):
    error_type = "IncompleteBody"
    status = 400


class KeyTooLongError(S3Error):
    error_type = "KeyTooLongError"
    status = 400


class MalformedXML(S3Error):
    error_type = "MalformedXML"
    status = 400


class MethodNotAllowed(S3Error):
    error_type = "MethodNotAllowed"
    status = 405


class Unsupported(S3Error):
    """S3's NotImplemented: an operation or feature gureum does not serve."""

    error_type = "NotImplemented"
    status = 501


class PreconditionFailed(S3Error):
    error_type = "PreconditionFailed"
    status = 412


class InternalError(S3Error):
    error_type = "InternalError"
    status = 500
