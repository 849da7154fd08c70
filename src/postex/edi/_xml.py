"""What every EDI writer and reader shares: building, serialising and safely parsing XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

from postex.edi.models import MessageHeader
from postex.kernel import text as text_policy
from postex.kernel.errors import ValidationError

NAMESPACE = "urn:postex:edi:{kind}:1"
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_FORBIDDEN_MARKUP = ("<!DOCTYPE", "<!ENTITY")


def namespace(kind: str) -> str:
    return NAMESPACE.format(kind=kind)


def _checked(value: str, name: str) -> str:
    """The text policy's own question (kernel.text): text accepted at the edge passes; this
    is the writers' last line, never the first."""
    if text_policy.forbidden(value, xml=True) is not None:
        raise ValidationError.single(
            name, "xml_char", value, f"{name} contains a character XML cannot carry"
        )
    return value


def root(tag: str, kind: str) -> ET.Element:
    """A document element in the ``urn:postex:edi:<kind>:1`` default namespace."""
    return ET.Element(tag, {"xmlns": namespace(kind)})


def add(parent: ET.Element, tag: str, text: str | int | None = None, **attrs: str) -> ET.Element:
    """Append ``<tag attrs>text</tag>``; refuse text that XML 1.0 cannot represent."""
    element = ET.SubElement(parent, tag, {k: _checked(v, f"{tag}@{k}") for k, v in attrs.items()})
    if text is not None:
        element.text = _checked(str(text), tag)
    return element


def add_optional(parent: ET.Element, tag: str, text: str | None) -> None:
    """Append ``<tag>`` only when there is a value; absent data stays absent."""
    if text:
        add(parent, tag, text)


def add_header(document: ET.Element, header: MessageHeader) -> None:
    """The ``<Header>`` every Postex EDI message starts with."""
    element = add(document, "Header")
    add(element, "MessageId", header.message_id)
    add(element, "PreparedAt", timestamp(header.prepared_at))
    add(element, "Sender", header.sender)
    add(element, "Recipient", header.recipient)


def timestamp(value: datetime) -> str:
    """ISO 8601 to the second with its UTC offset, e.g. ``2026-03-02T14:05:00+00:00``."""
    return value.isoformat(timespec="seconds")


def to_bytes(document: ET.Element) -> bytes:
    """Indented UTF-8 with a declaration; the same tree always gives the same bytes."""
    ET.indent(document, space="  ")
    return _DECLARATION + ET.tostring(document, encoding="unicode").encode("utf-8") + b"\n"


def parse(data: bytes, field: str) -> ET.Element:
    """Parse an untrusted UTF-8 document; raise only ValidationError.

    Refused before parsing: more than MAX_DOCUMENT_BYTES, bytes that are not UTF-8, NUL
    characters, and any ``<!DOCTYPE`` or ``<!ENTITY`` (so no entity can be declared, let alone
    expanded). The parser is told the encoding, so a declaration cannot switch it.
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValidationError.single(field, "too_large", len(data), "document is too large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError.single(
            field, "encoding", f"byte {exc.start}", "document is not UTF-8"
        ) from None
    if "\x00" in text:
        raise ValidationError.single(field, "xml", "NUL", "document contains a NUL character")
    upper = text.upper()
    for markup in _FORBIDDEN_MARKUP:
        if markup in upper:
            raise ValidationError.single(
                field, "forbidden_markup", markup, "DTDs and entity declarations are refused"
            )
    # defusedxml is not a dependency; no DTD reaches this parser (checked above), so no
    # entity can be declared or expanded, which is the attack S314 warns about.
    parser = ET.XMLParser(encoding="utf-8")  # noqa: S314
    try:
        parser.feed(data)
        return parser.close()
    except (ET.ParseError, ValueError, LookupError) as exc:
        raise ValidationError.single(field, "xml", str(exc), "not well-formed XML") from None


def aware_timestamp(text: str) -> datetime | None:
    """An ISO 8601 date-time with a UTC offset, or None if ``text`` is not one."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        return None
    return value
