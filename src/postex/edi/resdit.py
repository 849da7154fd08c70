"""RESDIT reader: carriers' receptacle reports (74 custody, 21 delivered) in Postex XML.

Format (namespace ``urn:postex:edi:resdit:1``; see docs/edi.md)::

    <Resdit xmlns="urn:postex:edi:resdit:1">
      <Event>
        <ReceptacleId>GBLALAUSJFKAAUN60001001100123</ReceptacleId>
        <Code>74</Code>
        <OccurredAt>2026-03-02T14:05:00+00:00</OccurredAt>
        <Location>LHR</Location>
      </Event>
    </Resdit>

Other elements (a ``Header``, unknown children) are ignored, so senders may add detail.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from postex.edi._xml import aware_timestamp, namespace, parse
from postex.edi.models import RESDIT_EVENTS, ResditEvent
from postex.kernel.dispatch_ids import ReceptacleId
from postex.kernel.errors import FieldError, ValidationError

_NS = "{" + namespace("resdit") + "}"
# An IATA airport (3 letters) or an IMPC office of exchange (6 letters).
_LOCATION = re.compile(r"[A-Z]{3}|[A-Z]{6}")


def _text(event: ET.Element, tag: str, path: str, errors: list[FieldError]) -> str | None:
    found = event.findall(_NS + tag)
    if len(found) != 1:
        rule = "required" if not found else "repeated"
        errors.append(FieldError(f"{path}.{tag}", rule, len(found), f"needs exactly one {tag}"))
        return None
    return (found[0].text or "").strip()


def _event(event: ET.Element, path: str, errors: list[FieldError]) -> ResditEvent | None:
    before = len(errors)
    raw_id = _text(event, "ReceptacleId", path, errors)
    code = _text(event, "Code", path, errors)
    raw_time = _text(event, "OccurredAt", path, errors)
    location = _text(event, "Location", path, errors)
    receptacle = None
    if raw_id is not None:
        try:
            receptacle = ReceptacleId.parse(raw_id)
        except ValidationError as exc:
            errors.extend(e.at(path) for e in exc.errors)
    if code is not None and code not in RESDIT_EVENTS:
        errors.append(FieldError(f"{path}.Code", "unknown_event_code", code, "expected 74 or 21"))
    occurred_at = aware_timestamp(raw_time) if raw_time is not None else None
    if raw_time is not None and occurred_at is None:
        errors.append(
            FieldError(f"{path}.OccurredAt", "timestamp", raw_time, "ISO 8601 with an offset")
        )
    if location is not None and _LOCATION.fullmatch(location) is None:
        errors.append(
            FieldError(f"{path}.Location", "location", location, "IATA airport or IMPC code")
        )
    if len(errors) > before:
        return None
    # All four are present and valid here: any gap appended an error above.
    if receptacle is None or code is None or occurred_at is None or location is None:
        return None
    return ResditEvent(receptacle, code, occurred_at, location)


def read_resdit(data: bytes) -> list[ResditEvent]:
    """Read every event of a RESDIT document, in document order.

    All or nothing: raises ValidationError listing every problem (fields named like
    ``event[2].Code``) if the document is unsafe, malformed or any event is invalid. Never
    raises anything else, whatever the bytes.
    """
    document = parse(data, "resdit")
    if document.tag != _NS + "Resdit":
        raise ValidationError.single(
            "resdit", "root", document.tag[:80], f"root must be {_NS}Resdit"
        )
    errors: list[FieldError] = []
    events = [
        _event(element, f"event[{i}]", errors)
        for i, element in enumerate(document.findall(_NS + "Event"), start=1)
    ]
    if errors:
        raise ValidationError(errors)
    return [e for e in events if e is not None]
