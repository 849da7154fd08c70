"""The CN38 delivery bill (airmail) and CN31 letter bill of one despatch, on A4."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from postex.pdf import _layout as lay
from postex.pdf._text import kg_from_hg
from postex.pdf.models import DespatchBillData

MARGIN = 36.0
ROOM = A4[0] - 2 * MARGIN
BAR_HEIGHT = 48.0
SIGNATURES_HEIGHT = 90.0
TITLES = {"CN38": ("DELIVERY BILL", "CN 38 – Airmail"), "CN31": ("LETTER BILL", "CN 31")}
RECEPTACLES = lay.Table(
    columns=(
        lay.Column("No.", 34, "right"),
        lay.Column("Receptacle identifier (S9)", 249),
        lay.Column("Gross weight (kg)", 120, "right"),
        lay.Column("Number of items", 120, "right"),
    ),
    size=10,
    max_lines=1,
    padding=3,
)


def render_despatch_bill(bill: DespatchBillData) -> bytes:
    """CN38 or CN31 for ``bill.form``; receptacles flow onto continuation pages.

    Office names and carrier text are cut or replaced to fit, never raised on.
    """
    buffer = io.BytesIO()
    title, form = TITLES[bill.form]
    canvas = lay.new_canvas(buffer, A4, f"{bill.form} {bill.despatch_id}")

    def continued(canvas: Canvas, top: float) -> float:
        heading = f"{form} (continued) — despatch {bill.despatch_id}"
        y = lay.text_block(canvas, heading, MARGIN, top, ROOM, size=11, max_lines=1, bold=True)
        return y - 6

    pages = lay.Pages(canvas, A4, MARGIN, f"{bill.form} {bill.despatch_id}", continued)
    pages.y = _heading(canvas, bill, pages.y, title, form)
    rows = [
        [str(n), line.receptacle_id, kg_from_hg(line.gross_weight_hg), str(line.item_count)]
        for n, line in enumerate(bill.receptacles, start=1)
    ]
    pages.table(RECEPTACLES, rows)
    weight = sum(line.gross_weight_hg for line in bill.receptacles)
    items = sum(line.item_count for line in bill.receptacles)
    totals = ["", f"Total: {len(bill.receptacles)} receptacles", kg_from_hg(weight), str(items)]
    pages.ensure(SIGNATURES_HEIGHT)
    laid = RECEPTACLES.layout(totals, bold=True)
    y = RECEPTACLES.draw(canvas, MARGIN, pages.y, laid, bold=True) - 36
    half = (ROOM - 24) / 2
    for x, caption in (
        (MARGIN, "Despatching office of exchange – signature"),
        (MARGIN + half + 24, "Carrier or receiving office – signature"),
    ):
        lay.rule(canvas, x, y, half, 0.5)
        lay.text_block(canvas, caption, x, y - 1, half, size=8, max_lines=1)
    return pages.finish(buffer)


def _heading(canvas: Canvas, bill: DespatchBillData, top: float, title: str, form: str) -> float:
    the_id = bill.despatch_id
    y = lay.text_block(canvas, title, MARGIN, top, 250, size=16, max_lines=1, bold=True)
    lay.text_block(canvas, form, MARGIN, y, 250, size=12, max_lines=1, bold=True)
    right = MARGIN + ROOM - 250
    lay.barcode(canvas, the_id, right, top - BAR_HEIGHT, room=250, bar_height=BAR_HEIGHT)
    y = lay.text_block(
        canvas,
        the_id,
        right,
        top - BAR_HEIGHT - 1,
        250,
        size=11,
        max_lines=1,
        bold=True,
        align="centre",
    )
    lay.rule(canvas, MARGIN, y - 4, ROOM)
    transport = " ".join(part for part in (bill.carrier, bill.flight) if part)
    return (
        lay.facts(
            canvas,
            [
                ("Office of origin", f"{bill.origin.code} {bill.origin.name}"),
                ("Office of destination", f"{bill.destination.code} {bill.destination.name}"),
                ("Date of despatch", bill.despatched_on.isoformat()),
                ("Despatch no.", f"{the_id[16:20]} (year digit {the_id[15]})"),
                ("Mail category", lay.mail_category(the_id[12])),
                ("Subclass", lay.mail_subclass(the_id[13:15])),
                ("Carrier / flight", transport or "—"),
                ("Receptacles", str(len(bill.receptacles))),
            ],
            MARGIN,
            y - 8,
            room=ROOM,
            max_lines=3,
        )
        - 6
    )
