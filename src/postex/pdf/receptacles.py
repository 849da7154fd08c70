"""The CN35 airmail receptacle (bag) label, 6×4 inch landscape."""

from __future__ import annotations

import io

from postex.pdf import _layout as lay
from postex.pdf._text import kg_from_hg
from postex.pdf.models import Cn35Data

WIDTH, HEIGHT = 432.0, 288.0
MARGIN = 12.0
ROOM = WIDTH - 2 * MARGIN
HALF = (ROOM - 12) / 2
BAR_HEIGHT = 54.0


def render_cn35(label: Cn35Data) -> bytes:
    """One-page CN35. Category, subclass, despatch number and receptacle serial come from the id.

    Office names and carrier text are cut or replaced to fit, never raised on.
    """
    buffer = io.BytesIO()
    canvas = lay.new_canvas(buffer, (WIDTH, HEIGHT), f"CN35 {label.receptacle_id}")
    the_id = label.receptacle_id
    top = HEIGHT - MARGIN
    banner = "PAR AVION – BY AIRMAIL" if the_id[12] == "A" else lay.MAIL_CATEGORIES[the_id[12]]
    lay.text_block(
        canvas, banner, MARGIN, top, ROOM, size=14, max_lines=1, bold=True, align="right"
    )
    y = lay.text_block(canvas, "CN 35", MARGIN, top, 80, size=14, max_lines=1, bold=True)
    lay.rule(canvas, MARGIN, y - 3, ROOM, 1.2)
    y -= 4
    ends = []
    for x, caption, office, size in (
        (MARGIN, "From (office of exchange of origin)", label.origin, 16.0),
        (MARGIN + HALF + 12, "To (office of exchange of destination)", label.destination, 24.0),
    ):
        below = lay.text_block(canvas, caption, x, y, HALF, size=7, max_lines=1)
        below = lay.text_block(
            canvas, office.code, x, below, HALF, size=size, max_lines=1, bold=True
        )
        ends.append(lay.text_block(canvas, office.name, x, below, HALF, size=10, max_lines=2))
    y = min(ends)
    lay.rule(canvas, MARGIN, y - 3, ROOM)
    transport = " ".join(part for part in (label.carrier, label.flight) if part)
    if label.flight_date is not None:
        transport = f"{transport} {label.flight_date.isoformat()}".strip()
    y = lay.facts(
        canvas,
        [
            ("Despatch no.", the_id[16:20]),
            ("Receptacle no.", the_id[20:23]),
            ("Gross weight", f"{kg_from_hg(label.gross_weight_hg)} kg"),
            ("Mail category", lay.mail_category(the_id[12])),
            ("Subclass", lay.mail_subclass(the_id[13:15])),
            ("Carrier / flight", transport or "—"),
        ],
        MARGIN,
        y - 4,
        room=ROOM,
    )
    bars = MARGIN + 16
    lay.barcode(canvas, the_id, MARGIN, bars, room=ROOM, bar_height=min(BAR_HEIGHT, y - bars - 4))
    lay.text_block(
        canvas, the_id, MARGIN, bars - 1, ROOM, size=11, max_lines=1, bold=True, align="centre"
    )
    return lay.finish(canvas, buffer)
