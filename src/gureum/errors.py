"""Errors a client of gureum sees, named and numbered as the Lambda API names and numbers them.

Each class carries the ``x-amzn-ErrorType`` name and the HTTP status of its botocore shape, so the
gateway can serialise any of them without a lookup table.
"""

from __future__ import annotations


class GureumError(Exception):
    """Base of every error that crosses the API boundary."""

    error_type = "ServiceException"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"Type": "User" if self.status < 500 else "Service", "message": self.message}


class InvalidParameterValueException(GureumError):
    error_type = "InvalidParameterValueException"
    status = 400


class ResourceNotFoundException(GureumError):
    error_type = "ResourceNotFoundException"
    status = 404


class ResourceConflictException(GureumError):
    error_type = "ResourceConflictException"
    status = 409


class RequestTooLargeException(GureumError):
    error_type = "RequestTooLargeException"
    status = 413


class CodeStorageExceededException(GureumError):
    error_type = "CodeStorageExceededException"
    status = 400


class CodeVerificationFailedException(GureumError):
    """Stored code no longer matches its SHA-256: it is refused, never run."""

    error_type = "CodeVerificationFailedException"
    status = 400


class InvalidRuntimeException(GureumError):
    error_type = "InvalidRuntimeException"
    status = 502


class TooManyRequestsException(GureumError):
    error_type = "TooManyRequestsException"
    status = 429

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    def to_dict(self) -> dict[str, str]:
        return {**super().to_dict(), "Reason": self.reason}


class ServiceException(GureumError):
    error_type = "ServiceException"
    status = 500
