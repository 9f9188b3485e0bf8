"""S3's REST-XML by hand: documents in S3's namespace, timestamps, errors, request parsing.

S3's XML is irregular (flattened lists, renamed members), so each operation writes its own
elements with ``xml.etree``; botocore's s3 model is the reference for names and shapes."""

from __future__ import annotations

import email.utils
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from ..errors import GureumError
from ..services.objects.errors import MalformedXML

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"


def root(tag: str) -> ET.Element:
    return ET.Element(tag, xmlns=NAMESPACE)


def add(parent: ET.Element, tag: str, text: str | int | bool | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if isinstance(text, bool):
        element.text = "true" if text else "false"
    elif text is not None:
        element.text = str(text)
    return element


def serialize(element: ET.Element) -> bytes:
    document: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return document


def iso(timestamp: float) -> str:
    """S3's XML timestamps: 2009-10-12T17:50:30.000Z."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def http_date(timestamp: float) -> str:
    """Headers' timestamps (Last-Modified): Wed, 21 Oct 2015 07:28:00 GMT."""
    return email.utils.formatdate(int(timestamp), usegmt=True)


def error(err: GureumError, resource: str, request_id: str) -> bytes:
    element = ET.Element("Error")
    add(element, "Code", err.error_type)
    add(element, "Message", err.message)
    for name, value in getattr(err, "details", {}).items():
        add(element, name, value)
    add(element, "Resource", resource)
    add(element, "RequestId", request_id)
    return serialize(element)


def parse(body: bytes, tag: str) -> ET.Element:
    """The document ``body`` with namespaces stripped from its tags; MalformedXML unless it is
    well-formed XML whose root is ``tag``."""
    try:
        document = ET.fromstring(body)
    except ET.ParseError:
        raise _malformed() from None
    for element in document.iter():
        element.tag = element.tag.rpartition("}")[2]
    if document.tag != tag:
        raise _malformed()
    return document


def text(element: ET.Element, tag: str, default: str = "") -> str:
    child = element.find(tag)
    return default if child is None or child.text is None else child.text


def _malformed() -> MalformedXML:
    return MalformedXML(
        "The XML you provided was not well-formed or did not validate against our published schema"
    )
