"""The 4×6 inch address label, with a compact CN22 when the item carries one."""

from __future__ import annotations

import io

from reportlab.pdfgen.canvas import Canvas

from postex.pdf import _layout as lay
from postex.pdf._text import kg_from_g, money, s10_readable
from postex.pdf.models import Cn22Data, LabelData

WIDTH, HEIGHT = 288.0, 432.0
MARGIN = 10.0
ROOM = WIDTH - 2 * MARGIN
BAR_HEIGHT = 50.0  # points; at least 0.6 inch (43.2 pt) for hand scanners
CN22_TOP = 186.0
CN22_FOOTER = 48.0  # totals, certification and signature under the contents lines

CN22_TABLE = lay.Table(
    columns=(
        lay.Column("Description", 88),
        lay.Column("Qty", 18, "right"),
        lay.Column("Net kg", 30, "right"),
        lay.Column("Value", 38, "right"),
        lay.Column("Cur.", 20),
        lay.Column("HS code", 42),
        lay.Column("Origin", 32),
    ),
    size=5.5,
    max_lines=2,
    padding=1.5,
)
CERTIFICATE = (
    "I, the undersigned, whose name and address are given on the item, certify that the "
    "particulars given in this declaration are correct and that this item does not contain "
    "any dangerous article or articles prohibited by legislation or by postal or customs "
    "regulations."
)


def render_label(label: LabelData) -> bytes:
    """One-page PDF label. Long or unprintable text is cut or replaced, never raised on.

    Raises ``ValueError`` only if the page could not hold a scannable barcode, which a valid
    ``LabelData`` never causes.
    """
    buffer = io.BytesIO()
    canvas = lay.new_canvas(buffer, (WIDTH, HEIGHT), f"Label {label.item_id}")
    draw_label(canvas, label)
    return lay.finish(canvas, buffer)


def draw_label(canvas: Canvas, label: LabelData) -> None:
    """Draw one label on the canvas's current page (sized 4×6 inches here)."""
    canvas.setPageSize((WIDTH, HEIGHT))
    compact = label.cn22 is not None
    y = _heading(canvas, label)
    y = _sender(canvas, label, y, max_lines=2 if compact else 4)
    y = _addressee(canvas, label, y, compact=compact)
    if label.cn22 is not None:
        _cn22(canvas, label.cn22)


def _heading(canvas: Canvas, label: LabelData) -> float:
    top = HEIGHT - MARGIN
    weight = f"{kg_from_g(label.weight_g)} kg"
    lay.text_block(canvas, weight, MARGIN, top, ROOM, size=11, max_lines=1, align="right")
    y = lay.text_block(
        canvas, label.service, MARGIN, top, ROOM - 70, size=12, max_lines=1, bold=True
    )
    lay.rule(canvas, MARGIN, y - 3, ROOM)
    bars_bottom = y - 8 - BAR_HEIGHT
    lay.barcode(canvas, label.item_id, MARGIN, bars_bottom, room=ROOM, bar_height=BAR_HEIGHT)
    readable = s10_readable(label.item_id)
    y = lay.text_block(
        canvas,
        readable,
        MARGIN,
        bars_bottom - 1,
        ROOM,
        size=14,
        max_lines=1,
        bold=True,
        align="centre",
    )
    lay.rule(canvas, MARGIN, y - 3, ROOM)
    return y - 4


def _sender(canvas: Canvas, label: LabelData, top: float, *, max_lines: int) -> float:
    y = lay.text_block(canvas, "FROM", MARGIN, top, ROOM, size=6, max_lines=1, bold=True)
    y = lay.address_block(
        canvas, label.sender, MARGIN, y, ROOM, size=7, name_size=7, max_lines=max_lines
    )
    lay.rule(canvas, MARGIN, y - 3, ROOM)
    return y - 4


def _addressee(canvas: Canvas, label: LabelData, top: float, *, compact: bool) -> float:
    y = lay.text_block(canvas, "TO", MARGIN, top, ROOM, size=7, max_lines=1, bold=True)
    return lay.address_block(
        canvas,
        label.addressee,
        MARGIN + 8,
        y,
        ROOM - 8,
        size=10 if compact else 12,
        name_size=12 if compact else 14,
        max_lines=3 if compact else 6,
    )


def _cn22(canvas: Canvas, cn22: Cn22Data) -> None:
    lay.rule(canvas, MARGIN, CN22_TOP, ROOM, 1.2)
    top = CN22_TOP - 1
    lay.text_block(
        canvas, "May be opened officially", MARGIN, top, ROOM, size=6, max_lines=1, align="right"
    )
    y = lay.text_block(
        canvas, "CUSTOMS DECLARATION CN 22", MARGIN, top, ROOM, size=8, max_lines=1, bold=True
    )
    y = lay.category_boxes(canvas, cn22.category, MARGIN, y - 2, room=ROOM, size=6)
    if cn22.category_explanation:
        text = f"Explanation: {cn22.category_explanation}"
        y = lay.text_block(canvas, text, MARGIN, y, ROOM, size=6, max_lines=1)
    y = CN22_TABLE.header(canvas, MARGIN, y - 2)
    y = _cn22_lines(canvas, cn22, y)
    _cn22_footer(canvas, cn22, y)


def _cn22_lines(canvas: Canvas, cn22: Cn22Data, top: float) -> float:
    """As many contents lines as fit above the footer; a last row counts any left out."""
    y = top
    floor = MARGIN + CN22_FOOTER
    for n, line in enumerate(cn22.lines):
        laid = CN22_TABLE.layout(
            [
                line.description,
                str(line.quantity),
                kg_from_g(line.net_weight_g),
                money(line.value_minor, cn22.currency),
                cn22.currency,
                line.hs_code,
                line.origin_country,
            ]
        )
        left = len(cn22.lines) - n
        spare = CN22_TABLE.height(CN22_TABLE.layout([""] * len(CN22_TABLE.columns)))
        needed = CN22_TABLE.height(laid) + (spare if left > 1 else 0)
        if y - needed < floor:
            note = f"… {left} more line(s): see CN23 or ITMATT data"
            return CN22_TABLE.draw(canvas, MARGIN, y, CN22_TABLE.layout([note, *[""] * 6]))
        y = CN22_TABLE.draw(canvas, MARGIN, y, laid)
    return y


def _cn22_footer(canvas: Canvas, cn22: Cn22Data, top: float) -> None:
    net = sum(line.net_weight_g for line in cn22.lines)
    value = sum(line.value_minor for line in cn22.lines)
    totals = [
        f"Total ({len(cn22.lines)} lines)",
        str(sum(line.quantity for line in cn22.lines)),
        kg_from_g(net),
        money(value, cn22.currency),
        cn22.currency,
        "",
        "",
    ]
    y = CN22_TABLE.draw(canvas, MARGIN, top, CN22_TABLE.layout(totals, bold=True), bold=True)
    gross = f"Total gross weight {kg_from_g(cn22.gross_weight_g)} kg"
    total = f"Total value {money(value, cn22.currency)} {cn22.currency}"
    y = lay.text_block(
        canvas, f"{gross}   {total}", MARGIN, y, ROOM, size=6.5, max_lines=1, bold=True
    )
    y = lay.text_block(canvas, CERTIFICATE, MARGIN, y, ROOM, size=4.6, max_lines=3)
    signed = f"Date and sender's signature: {cn22.signed_on.isoformat()}  {cn22.signatory}"
    y = lay.text_block(canvas, signed, MARGIN, y - 1, ROOM - 80, size=6.5, max_lines=1)
    lay.rule(canvas, MARGIN + ROOM - 78, y + 1.5, 78, 0.5)
