"""The end-of-day collection manifest: the items a sender hands in, each with its Code 128
barcode, on A4, for the collecting driver or the counter clerk to scan and sign."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from postex.pdf import _layout as lay
from postex.pdf._text import kg_from_g, s10_readable

MARGIN = 36.0
ROOM = A4[0] - 2 * MARGIN
BAR_ROOM = 210.0
BAR_HEIGHT = 34.0
ROW_HEIGHT = 52.0


@dataclass(frozen=True)
class CollectionRow:
    item_id: str
    service: str
    destination: str
    weight_g: int
    reference: str
    state: str


@dataclass(frozen=True)
class CollectionData:
    sender: str  # the account's business name
    day: date
    rows: tuple[CollectionRow, ...]


def render_collection(doc: CollectionData) -> bytes:
    """A4 pages: a heading with the counts, a row per item with its barcode, signatures."""
    buffer = io.BytesIO()
    canvas = lay.new_canvas(buffer, A4, f"Collection manifest {doc.day.isoformat()}")
    title = f"Collection manifest — {doc.sender} — {doc.day.isoformat()}"

    def continued(canvas: Canvas, top: float) -> float:
        y = lay.text_block(canvas, f"{title} (continued)", MARGIN, top, ROOM, size=10,
                           max_lines=1, bold=True)  # fmt: skip
        return y - 6

    pages = lay.Pages(canvas, A4, MARGIN, title, continued)
    y = lay.text_block(canvas, "COLLECTION MANIFEST", MARGIN, pages.y, ROOM, size=16,
                       max_lines=1, bold=True)  # fmt: skip
    total = sum(r.weight_g for r in doc.rows)
    facts = (f"Sender: {doc.sender} · Day: {doc.day.isoformat()} · Items: {len(doc.rows)}"
             f" · Total weight: {kg_from_g(total)} kg")  # fmt: skip
    y = lay.text_block(canvas, facts, MARGIN, y - 4, ROOM, size=10, max_lines=2)
    lay.rule(canvas, MARGIN, y - 4, ROOM)
    pages.y = y - 10
    text_room = ROOM - BAR_ROOM - 10
    for n, row in enumerate(doc.rows, start=1):
        pages.ensure(ROW_HEIGHT)
        top = pages.y
        line = f"{n}.  {s10_readable(row.item_id)}"
        below = lay.text_block(canvas, line, MARGIN, top, text_room, size=10, max_lines=1,
                               bold=True)  # fmt: skip
        detail = (f"{row.service} · to {row.destination} · {kg_from_g(row.weight_g)} kg"
                  f" · {row.state.replace('_', ' ')}")  # fmt: skip
        below = lay.text_block(canvas, detail, MARGIN, below, text_room, size=8.5, max_lines=1)
        if row.reference:
            lay.text_block(canvas, f"Ref. {row.reference}", MARGIN, below, text_room, size=8.5,
                           max_lines=1)  # fmt: skip
        lay.barcode(canvas, row.item_id, MARGIN + ROOM - BAR_ROOM, top - BAR_HEIGHT - 4,
                    room=BAR_ROOM, bar_height=BAR_HEIGHT)  # fmt: skip
        lay.rule(canvas, MARGIN, top - ROW_HEIGHT + 4, ROOM, 0.4)
        pages.y = top - ROW_HEIGHT
    pages.ensure(70)
    y = lay.text_block(canvas, "Handed over by (name, signature):", MARGIN, pages.y - 20,
                       ROOM / 2, size=9, max_lines=1)  # fmt: skip
    lay.text_block(canvas, "Received by (name, signature, time):", MARGIN + ROOM / 2,
                   pages.y - 20, ROOM / 2, size=9, max_lines=1)  # fmt: skip
    pages.y = y - 30
    return pages.finish(buffer)
