"""Many items in one PDF: every 4×6 inch label first (for the label printer), then every
CN23 on A4, each drawn by the same code as a single label or declaration."""

from __future__ import annotations

import io
from collections.abc import Sequence

from reportlab.lib.pagesizes import A4

from postex.pdf import _layout as lay
from postex.pdf.customs import draw_cn23
from postex.pdf.labels import HEIGHT, WIDTH, draw_label
from postex.pdf.models import Cn23Data, LabelData


def render_batch(labels: Sequence[LabelData], cn23s: Sequence[Cn23Data] = ()) -> bytes:
    """One document: a page per label, then each CN23 on its own A4 pages."""
    if not labels and not cn23s:
        raise ValueError("a batch has at least one label or CN23")
    buffer = io.BytesIO()
    first = (WIDTH, HEIGHT) if labels else A4
    canvas = lay.new_canvas(buffer, first, f"Labels ({len(labels)}) and CN23s ({len(cn23s)})")
    for label in labels:
        draw_label(canvas, label)
        canvas.showPage()
    for doc in cn23s:
        draw_cn23(canvas, doc).close()
    canvas.save()
    return buffer.getvalue()
