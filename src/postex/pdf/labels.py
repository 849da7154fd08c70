"""The 4×6 inch address label, with a compact CN22 when the item carries one."""

from __future__ import annotations

import io

from reportlab.pdfgen.canvas import Canvas

from postex.pdf import _layout as lay
from postex.pdf._text import BOLD, REGULAR, fit, kg_from_g, money, s10_readable, width
from postex.pdf.models import Cn22Data, LabelData, TaxScheme

WIDTH, HEIGHT = 288.0, 432.0
MARGIN = 10.0
ROOM = WIDTH - 2 * MARGIN
BAR_HEIGHT = 50.0  # points; at least 0.6 inch (43.2 pt) for hand scanners
CN22_MAX_HEIGHT = 230.0  # the CN22 never takes more than about half the label

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
    max_lines=6,
    padding=1.5,
)
CERTIFICATE = (
    "I, the undersigned, whose name and address are given on the item, certify that the "
    "particulars given in this declaration are correct and that this item does not contain "
    "any dangerous article or articles prohibited by legislation or by postal or customs "
    "regulations."
)


def render_label(label: LabelData) -> bytes:
    """One-page PDF label on which every line delivery needs is printed, none cut.

    The CN22 (when the item carries one) sits at the foot of the label and takes only the
    height its lines need; the parties share the rest, in the largest type that holds every
    line of both (destination's format, wrapped, never cut). Unprintable characters are
    replaced, never raised on.

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
    y = _heading(canvas, label)
    floor = MARGIN
    if label.cn22 is not None:
        floor = MARGIN + cn22_height(label.cn22) + 4
    _parties(canvas, label, y, floor)
    if label.cn22 is not None:
        _cn22(canvas, label.cn22, floor - 2)


def _service_size(service: str) -> tuple[float, int]:
    """The largest type (12 pt down to 8 pt) that holds the full service name on one line."""
    room = ROOM - 70
    for size in (12.0, 11.0, 10.0, 9.0, 8.0):
        if width(service, BOLD, size) <= room:
            return size, 1
    return 8.0, 4


def _heading(canvas: Canvas, label: LabelData) -> float:
    top = HEIGHT - MARGIN
    weight = f"{kg_from_g(label.weight_g)} kg"
    lay.text_block(canvas, weight, MARGIN, top, ROOM, size=11, max_lines=1, align="right")
    size, lines = _service_size(label.service)
    y = lay.text_block(
        canvas, label.service, MARGIN, top, ROOM - 70, size=size, max_lines=lines, bold=True
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


# (addressee, sender) type sizes, largest first; the first pair whose lines all fit is used.
SIZES = tuple(
    (a, max(4.5, min(8.0, a * 0.62))) for a in (13, 12, 11, 10, 9, 8.5, 8, 7.5, 7, 6.5, 6, 5.5, 5)
)
TO_INDENT = 8.0


def _needed(
    sender: list[tuple[str, bool]], addressee: list[tuple[str, bool]], big: float, small: float
) -> float:
    return (
        6 * lay.LEADING
        + lay.rows_height(sender, ROOM, small)
        + 4
        + 7 * lay.LEADING
        + lay.rows_height(addressee, ROOM - TO_INDENT, big)
    )


def party_sizes(label: LabelData, top: float, floor: float) -> tuple[float, float]:
    """The largest (addressee, sender) sizes at which both parties fit between top and floor."""
    sender, addressee = lay.address_rows(label.sender), lay.address_rows(label.addressee)
    for big, small in SIZES:
        if _needed(sender, addressee, big, small) <= top - floor:
            return big, small
    return SIZES[-1]


def _parties(canvas: Canvas, label: LabelData, top: float, floor: float) -> None:
    big, small = party_sizes(label, top, floor)
    sender, addressee = lay.address_rows(label.sender), lay.address_rows(label.addressee)
    fits = (big, small) != SIZES[-1] or _needed(sender, addressee, big, small) <= top - floor
    y = lay.text_block(canvas, "FROM", MARGIN, top, ROOM, size=6, max_lines=1, bold=True)
    # Only text no pre-advice accepts (thousands of characters) needs more than the smallest
    # type: then each party keeps its share of the room and its COUNTRY, the rest is cut.
    room = top - floor - 6 * lay.LEADING - 4 - 7 * lay.LEADING
    budget = None if fits else int(room * 0.4 / (small * lay.LEADING))
    y = lay.rows_block(canvas, sender, MARGIN, y, ROOM, size=small, max_lines=budget)
    lay.rule(canvas, MARGIN, y - 2, ROOM)
    y = lay.text_block(canvas, "TO", MARGIN, y - 4, ROOM, size=7, max_lines=1, bold=True)
    budget = None if fits else int((y - floor) / (big * lay.LEADING))
    lay.rows_block(
        canvas, addressee, MARGIN + TO_INDENT, y, ROOM - TO_INDENT, size=big, max_lines=budget
    )


def _laid_lines(cn22: Cn22Data) -> list[list[list[str]]]:
    """The contents rows as drawn. The application never gives a CN22 more lines than it
    holds (such items get a CN23); should a caller do so, the rows that would push the CN22
    past half the label give way to one row counting them, pointing at the CN23."""
    rows = _all_lines(cn22)
    spare = CN22_TABLE.height(CN22_TABLE.layout(["…", *[""] * 6]))
    used = _cn22_fixed_height(cn22)
    for n, laid in enumerate(rows):
        more = spare if n < len(rows) - 1 else 0.0
        if used + CN22_TABLE.height(laid) + more > CN22_MAX_HEIGHT:
            note = f"… {len(rows) - n} more line(s): on the CN23"
            return [*rows[:n], CN22_TABLE.layout([note, *[""] * 6])]
        used += CN22_TABLE.height(laid)
    return rows


def _all_lines(cn22: Cn22Data) -> list[list[list[str]]]:
    return [
        CN22_TABLE.layout(
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
        for line in cn22.lines
    ]


SCHEME_NAMES = {
    TaxScheme.TAX_ID: "Tax ID",
    TaxScheme.VAT: "VAT",
    TaxScheme.EORI: "EORI",
    TaxScheme.IOSS: "IOSS",
}


def _references(cn22: Cn22Data) -> str:
    """Importer's reference and contact, licence, certificate and invoice numbers: one
    line of the CN22, printed only when the sender gave any of them."""
    parts = []
    if cn22.importer_references:
        refs = "; ".join(
            f"{r.scheme.value.upper().replace('_', ' ')} {r.value}"
            for r in cn22.importer_references
        )
        parts.append(f"Importer's ref.: {refs}")
    if cn22.importer_contact:
        parts.append(f"Importer's tel./e-mail: {cn22.importer_contact}")
    if cn22.licence_numbers:
        parts.append(f"Licence: {', '.join(cn22.licence_numbers)}")
    if cn22.certificate_numbers:
        parts.append(f"Certificate: {', '.join(cn22.certificate_numbers)}")
    if cn22.invoice_number:
        parts.append(f"Invoice: {cn22.invoice_number}")
    return " · ".join(parts)


def _explanation(cn22: Cn22Data) -> str:
    return f"Explanation: {cn22.category_explanation}" if cn22.category_explanation else ""


def cn22_height(cn22: Cn22Data) -> float:
    """The height the CN22 block takes on the label: the same sums its drawing makes."""
    return _cn22_fixed_height(cn22) + sum(CN22_TABLE.height(laid) for laid in _laid_lines(cn22))


def _cn22_fixed_height(cn22: Cn22Data) -> float:
    height = 1 + 8 * lay.LEADING + 6 * lay.LEADING  # title, designated operator
    height += 2 + 2 * 6 * 1.5  # category boxes
    explanation = _explanation(cn22)
    if explanation:
        height += len(fit(explanation, REGULAR, 6, ROOM, 3)) * 6 * lay.LEADING
    references = _references(cn22)
    if references:
        height += len(fit(references, REGULAR, 5.5, ROOM, 3)) * 5.5 * lay.LEADING
    height += 2 + CN22_TABLE.height(CN22_TABLE.layout([c.title for c in CN22_TABLE.columns]))
    height += CN22_TABLE.height(_totals(cn22))
    height += 6.5 * lay.LEADING
    height += len(fit(CERTIFICATE, REGULAR, 4.6, ROOM, 3)) * 4.6 * lay.LEADING
    height += 1 + 5.5 * lay.LEADING
    return height


def _cn22(canvas: Canvas, cn22: Cn22Data, top_rule: float) -> None:
    """The CN22 from ``top_rule`` down: every contents line (the CN22 rule at pre-advice
    sends items with more lines than a CN22 holds to a CN23, so none is ever left out)."""
    lay.rule(canvas, MARGIN, top_rule, ROOM, 1.2)
    top = top_rule - 1
    lay.text_block(
        canvas, "May be opened officially", MARGIN, top, ROOM, size=6, max_lines=1, align="right"
    )
    y = lay.text_block(
        canvas, "CUSTOMS DECLARATION CN 22", MARGIN, top, ROOM, size=8, max_lines=1, bold=True
    )
    operator = f"Designated operator: {cn22.operator or '—'}"
    y = lay.text_block(canvas, operator, MARGIN, y, ROOM, size=6, max_lines=1)
    y = lay.category_boxes(canvas, cn22.category, MARGIN, y - 2, room=ROOM, size=6)
    explanation = _explanation(cn22)
    if explanation:
        y = lay.text_block(canvas, explanation, MARGIN, y, ROOM, size=6, max_lines=3)
    references = _references(cn22)
    if references:
        y = lay.text_block(canvas, references, MARGIN, y, ROOM, size=5.5, max_lines=3)
    y = CN22_TABLE.header(canvas, MARGIN, y - 2)
    for laid in _laid_lines(cn22):
        y = CN22_TABLE.draw(canvas, MARGIN, y, laid)
    _cn22_footer(canvas, cn22, y)


def _totals(cn22: Cn22Data) -> list[list[str]]:
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
    return CN22_TABLE.layout(totals, bold=True)


def _cn22_footer(canvas: Canvas, cn22: Cn22Data, top: float) -> None:
    value = sum(line.value_minor for line in cn22.lines)
    y = CN22_TABLE.draw(canvas, MARGIN, top, _totals(cn22), bold=True)
    gross = f"Total gross weight {kg_from_g(cn22.gross_weight_g)} kg"
    total = f"Total value {money(value, cn22.currency)} {cn22.currency}"
    y = lay.text_block(
        canvas, f"{gross}   {total}", MARGIN, y, ROOM, size=6.5, max_lines=1, bold=True
    )
    y = lay.text_block(canvas, CERTIFICATE, MARGIN, y, ROOM, size=4.6, max_lines=3)
    signed = f"Date and sender's signature: {cn22.signed_on.isoformat()}  {cn22.signatory}"
    y = lay.text_block(canvas, signed, MARGIN, y - 1, ROOM - 70, size=5.5, max_lines=1)
    lay.rule(canvas, MARGIN + ROOM - 66, y + 1.5, 66, 0.5)
