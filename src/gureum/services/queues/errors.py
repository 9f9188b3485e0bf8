"""The errors of the queues, named as the SQS API names them.

Each carries the shape name botocore's ``sqs`` model gives it (``error_type``, sent as the JSON
``__type``) and the code the old Query protocol used (``query_code``, sent in the
``x-amzn-query-error`` header): botocore shows the latter as ``Error.Code`` and picks the exception
class (``client.exceptions.QueueDoesNotExist``) from the former.
"""

from __future__ import annotations

from ...errors import GureumError


class QueueError(GureumError):
    status = 400
    error_type = "InvalidParameterValueException"
    query_code = "InvalidParameterValue"
    sender_fault = True  # the caller's mistake ("Sender"), not the service's ("Receiver")


class InvalidParameterValue(QueueError):
    pass


class MissingParameter(QueueError):
    error_type = "MissingRequiredParameterException"
    query_code = "MissingParameter"


class QueueDoesNotExist(QueueError):
    error_type = "QueueDoesNotExist"
    query_code = "AWS.SimpleQueueService.NonExistentQueue"

    def __init__(self, message: str = "The specified queue does not exist.") -> None:
        super().__init__(message)


class QueueNameExists(QueueError):
    error_type = "QueueNameExists"
    query_code = "QueueAlreadyExists"


class InvalidAttributeName(QueueError):
    error_type = "InvalidAttributeName"
    query_code = "InvalidAttributeName"


class InvalidAttributeValue(QueueError):
    error_type = "InvalidAttributeValue"
    query_code = "InvalidAttributeValue"


class InvalidMessageContents(QueueError):
    error_type = "InvalidMessageContents"
    query_code = "InvalidMessageContents"


class ReceiptHandleIsInvalid(QueueError):
    error_type = "ReceiptHandleIsInvalid"
    query_code = "ReceiptHandleIsInvalid"


class MessageNotInflight(QueueError):
    error_type = "MessageNotInflight"
    query_code = "AWS.SimpleQueueService.MessageNotInflight"


class TooManyEntriesInBatchRequest(QueueError):
    error_type = "TooManyEntriesInBatchRequest"
    query_code = "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"


class EmptyBatchRequest(QueueError):
    error_type = "EmptyBatchRequest"
    query_code = "AWS.SimpleQueueService.EmptyBatchRequest"


class BatchEntryIdsNotDistinct(QueueError):
    error_type = "BatchEntryIdsNotDistinct"
    query_code = "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"


class InvalidBatchEntryId(QueueError):
    error_type = "InvalidBatchEntryId"
    query_code = "AWS.SimpleQueueService.InvalidBatchEntryId"


class BatchRequestTooLong(QueueError):
    error_type = "BatchRequestTooLong"
    query_code = "AWS.SimpleQueueService.BatchRequestTooLong"


class UnsupportedOperation(QueueError):
    error_type = "UnsupportedOperation"
    query_code = "AWS.SimpleQueueService.UnsupportedOperation"


class QueuesClosed(QueueError):
    """The platform is shutting down: nothing more is accepted."""

    status = 503
    error_type = "ServiceUnavailable"
    query_code = "ServiceUnavailable"
    sender_fault = False
