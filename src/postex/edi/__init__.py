"""EDI messages as XML renderings of the UPU element lists, and readers for partner input.

Writers are pure: plain values in, deterministic UTF-8 XML bytes out. Readers take untrusted
bytes and raise nothing but ValidationError. Formats and departures from the licensed UPU
EDIFACT standards are documented in docs/edi.md.
"""

from postex.edi.cardit import write_cardit
from postex.edi.emsevt import read_emsevt_csv
from postex.edi.itmatt import write_itmatt
from postex.edi.models import (
    CarditConsignment,
    CarditReceptacle,
    ContentLine,
    EmsevtRow,
    ImporterReferences,
    ItmattItem,
    MessageHeader,
    Party,
    PlannedTransport,
    PredesDespatch,
    PredesReceptacle,
    ResditEvent,
    RowError,
)
from postex.edi.predes import write_predes
from postex.edi.resdit import read_resdit

__all__ = [
    "CarditConsignment",
    "CarditReceptacle",
    "ContentLine",
    "EmsevtRow",
    "ImporterReferences",
    "ItmattItem",
    "MessageHeader",
    "Party",
    "PlannedTransport",
    "PredesDespatch",
    "PredesReceptacle",
    "ResditEvent",
    "RowError",
    "read_emsevt_csv",
    "read_resdit",
    "write_cardit",
    "write_itmatt",
    "write_predes",
]
