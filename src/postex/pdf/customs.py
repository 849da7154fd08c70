"""The CN23 customs declaration on A4; contents lines flow onto continuation pages."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from postex.pdf import _layout as lay
from postex.pdf._text import kg_from_g, money, s10_readable
from postex.pdf.labels import CERTIFICATE
from postex.pdf.models import Cn23Data, ContentsLine, TaxScheme

MARGIN = 36.0
ROOM = A4[0] - 2 * MARGIN
HALF = (ROOM - 12) / 2
BAR_HEIGHT = 48.0
FOOTER_HEIGHT = 200.0  # totals, references, comments, certificate and signature

SCHEMES = {
    TaxScheme.TAX_ID: "Tax ID",
    TaxScheme.VAT: "VAT",
    TaxScheme.EORI: "EORI",
    TaxScheme.IOSS: "IOSS",
}
LINES = lay.Table(
    columns=(
        lay.Column("No.", 22, "right"),
        lay.Column("Detailed description of contents", 211),
        lay.Column("Quantity", 44, "right"),
        lay.Column("Net weight (kg)", 50, "right"),
        lay.Column("Value", 58, "right"),
        lay.Column("Currency", 48),
        lay.Column("HS tariff number", 50),
        lay.Column("Country of origin", 40),
    ),
    size=8,
    max_lines=4,
)


def render_cn23(doc: Cn23Data) -> bytes:
    """A4 CN23: page 1 carries the parties and the barcode; long contents continue overleaf.

    Text is cut or replaced, never raised on; a declaration of any number of lines renders.
    """
    buffer = io.BytesIO()
    canvas = lay.new_canvas(buffer, A4, f"CN23 {doc.item_id}")
    return draw_cn23(canvas, doc).finish(buffer)


def draw_cn23(canvas: Canvas, doc: Cn23Data) -> lay.Pages:
    """Draw a CN23 from the canvas's current page on (sized A4 here); the last page is left
    open for the caller to finish (``Pages.finish``) or close (``Pages.close``)."""
    canvas.setPageSize(A4)

    def continued(canvas: Canvas, top: float) -> float:
        heading = f"CN 23 (continued) — item {s10_readable(doc.item_id)}"
        y = lay.text_block(canvas, heading, MARGIN, top, ROOM, size=11, max_lines=1, bold=True)
        return y - 6

    pages = lay.Pages(canvas, A4, MARGIN, f"CN 23 {doc.item_id}", continued)
    pages.y = _first_page(canvas, doc, pages.y)
    pages.table(LINES, (_row(doc, n, line) for n, line in enumerate(doc.lines, start=1)))
    pages.ensure(FOOTER_HEIGHT)
    pages.y = _footer(canvas, doc, pages.y)
    return pages


def _first_page(canvas: Canvas, doc: Cn23Data, top: float) -> float:
    y = lay.text_block(
        canvas, "CUSTOMS DECLARATION", MARGIN, top, 250, size=14, max_lines=1, bold=True
    )
    y = lay.text_block(canvas, "CN 23", MARGIN, y, 250, size=20, max_lines=1, bold=True)
    y = lay.text_block(canvas, "May be opened officially", MARGIN, y, 250, size=8, max_lines=1)
    operator = f"Designated operator: {doc.operator or '—'}"
    lay.text_block(canvas, operator, MARGIN, y - 2, 250, size=9, max_lines=2, bold=True)
    right = MARGIN + ROOM - 250
    lay.barcode(canvas, doc.item_id, right, top - BAR_HEIGHT, room=250, bar_height=BAR_HEIGHT)
    readable = s10_readable(doc.item_id)
    y = lay.text_block(
        canvas,
        readable,
        right,
        top - BAR_HEIGHT - 1,
        250,
        size=13,
        max_lines=1,
        bold=True,
        align="centre",
    )
    lay.rule(canvas, MARGIN, y - 4, ROOM)
    y -= 6
    ends = []
    parties = (
        (MARGIN, "From (sender)", doc.sender),
        (MARGIN + HALF + 12, "To (addressee)", doc.addressee),
    )
    for x, title, address in parties:
        below = lay.text_block(canvas, title, x, y, HALF, size=8, max_lines=1, bold=True)
        ends.append(
            lay.address_block(canvas, address, x, below, HALF, size=9, name_size=10, max_lines=6)
        )
    y = min(ends)
    lay.rule(canvas, MARGIN, y - 4, ROOM)
    references = "; ".join(f"{SCHEMES[ref.scheme]} {ref.value}" for ref in doc.importer_references)
    title = "Importer's reference (tax code / VAT no. / importer code): "
    y = lay.text_block(
        canvas, title + (references or "—"), MARGIN, y - 6, ROOM, size=9, max_lines=3
    )
    contact = f"Importer's telephone / e-mail: {doc.importer_contact or '—'}"
    y = lay.text_block(canvas, contact, MARGIN, y, ROOM, size=9, max_lines=2)
    if doc.sender_reference:
        text = f"Sender's customs reference: {doc.sender_reference}"
        y = lay.text_block(canvas, text, MARGIN, y, ROOM, size=9, max_lines=2)
    y -= 4
    y = lay.category_boxes(canvas, doc.category, MARGIN, y, room=ROOM, size=9)
    if doc.category_explanation:
        text = f"Explanation: {doc.category_explanation}"
        y = lay.text_block(canvas, text, MARGIN, y, ROOM, size=9, max_lines=2)
    return y - 6


def _row(doc: Cn23Data, number: int, line: ContentsLine) -> list[str]:
    return [
        str(number),
        line.description,
        str(line.quantity),
        kg_from_g(line.net_weight_g),
        money(line.value_minor, doc.currency),
        doc.currency,
        line.hs_code,
        line.origin_country,
    ]


def _footer(canvas: Canvas, doc: Cn23Data, top: float) -> float:
    net = sum(line.net_weight_g for line in doc.lines)
    value = sum(line.value_minor for line in doc.lines)
    quantity = sum(line.quantity for line in doc.lines)
    totals = ["", f"Total ({len(doc.lines)} lines)", str(quantity), kg_from_g(net)]
    totals += [money(value, doc.currency), doc.currency, "", ""]
    y = LINES.draw(canvas, MARGIN, top, LINES.layout(totals, bold=True), bold=True) - 6
    facts = [
        f"Total gross weight: {kg_from_g(doc.gross_weight_g)} kg",
        f"Total value: {money(value, doc.currency)} {doc.currency}",
        f"Postal charges/fees: {money(doc.postal_charges_minor, doc.currency)} {doc.currency}",
        f"Licence no(s).: {', '.join(doc.licence_numbers) or '—'}",
        f"Certificate no(s).: {', '.join(doc.certificate_numbers) or '—'}",
        f"Invoice no.: {doc.invoice_number or '—'}",
    ]
    third = ROOM / 3
    for start in (0, 3):
        ends = [
            lay.text_block(canvas, fact, MARGIN + n * third, y, third - 6, size=9, max_lines=2)
            for n, fact in enumerate(facts[start : start + 3])
        ]
        y = min(ends) - 2
    posted = doc.posted_on.isoformat() if doc.posted_on else "—"
    origin = f"Office of origin / date of posting: {doc.office_of_origin or '—'} / {posted}"
    y = lay.text_block(canvas, origin, MARGIN, y - 2, ROOM, size=9, max_lines=2)
    comments = f"Comments: {doc.comments or '—'}"
    y = lay.text_block(canvas, comments, MARGIN, y - 4, ROOM, size=9, max_lines=4)
    y = lay.text_block(canvas, CERTIFICATE, MARGIN, y - 6, ROOM, size=8, max_lines=3)
    signed = f"Date and sender's signature: {doc.signed_on.isoformat()}  {doc.signatory}"
    y = lay.text_block(canvas, signed, MARGIN, y - 8, ROOM - 170, size=9, max_lines=1)
    lay.rule(canvas, MARGIN + ROOM - 160, y + 2, 160, 0.5)
    return y
