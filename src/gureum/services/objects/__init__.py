"""Object storage: buckets and objects on local disk, as the S3 API sees them.

``storage.ObjectStorage`` is the whole interface; ``files`` (the layout on disk and atomic
writes), ``catalog`` (SQLite rows), ``listing``, ``reading``, ``checksums`` and
``notifications`` (rules and S3 event records) are its parts. docs/decisions/0013.
"""

from __future__ import annotations

from .errors import S3Error
from .notifications import Rule
from .reading import Reading
from .storage import Notifier, ObjectStorage
from .types import (
    Attributes,
    Body,
    Bucket,
    Checksum,
    CompletedPart,
    Listing,
    ObjectInfo,
    Part,
    Requester,
    Upload,
)

__all__ = [
    "Attributes",
    "Body",
    "Bucket",
    "Checksum",
    "CompletedPart",
    "Listing",
    "Notifier",
    "ObjectInfo",
    "ObjectStorage",
    "Part",
    "Reading",
    "Requester",
    "Rule",
    "S3Error",
    "Upload",
]
