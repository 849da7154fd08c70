"""The certificate of posting: a receipt (postex.network.app.receipts) on one A4 page, with
the facts it proves, the checkpoint it was issued against, and a QR code of its digest."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4

from postex.eventlog.notes import parse
from postex.pdf import _layout as lay
from postex.pdf._text import kg_from_g, s10_readable

MARGIN = 48.0
ROOM = A4[0] - 2 * MARGIN
QR_SIZE = 150.0


@dataclass(frozen=True)
class ProvenEvent:
    label: str  # pre-advice | acceptance
    recorded_at: str
    seq: int
    weight_g: int | None
    place: str


@dataclass(frozen=True)
class CertificateData:
    item_id: str
    site: str
    service: str
    destination: str
    events: tuple[ProvenEvent, ...]
    tree_size: int
    root_b64: str
    witnessed: bool
    digest: str
    verify_url: str  # where the sender (or anyone) learns how to check it


def render_certificate(doc: CertificateData) -> bytes:
    buffer = io.BytesIO()
    canvas = lay.new_canvas(buffer, A4, f"Certificate of posting {doc.item_id}")
    top = A4[1] - MARGIN
    y = lay.text_block(canvas, "Certificate of posting", MARGIN, top, ROOM, size=22,
                       max_lines=1, bold=True)  # fmt: skip
    y = lay.text_block(canvas, s10_readable(doc.item_id), MARGIN, y - 6, ROOM, size=16,
                       max_lines=1, bold=True)  # fmt: skip
    y = lay.text_block(
        canvas, f"Service {doc.service} to {doc.destination}, posted at {doc.site}",
        MARGIN, y - 4, ROOM, size=11, max_lines=2,
    )  # fmt: skip
    lay.rule(canvas, MARGIN, y - 8, ROOM)
    y -= 16
    for ev in doc.events:
        weight = f", {kg_from_g(ev.weight_g)} kg" if ev.weight_g is not None else ""
        what = "Pre-advised by the sender" if ev.label == "pre-advice" else "Accepted at"
        line = f"{what} {ev.place} on {ev.recorded_at}{weight} (log entry {ev.seq})"
        y = lay.text_block(canvas, line, MARGIN, y, ROOM, size=11, max_lines=2)
        y -= 4
    lay.rule(canvas, MARGIN, y - 6, ROOM)
    y -= 14
    proof = (
        f"These events are in {doc.site}'s append-only log, whose state of "
        f"{doc.tree_size:,} entries (root {doc.root_b64}) is signed by the site"
        + (" and cosigned by the network's witness." if doc.witnessed else ".")
        + " The attached receipt proves it to anyone with the published public keys, offline "
        "and without Postex: see docs/log-format.md, 'Receipts', and tools/verify_receipt.py."
    )
    y = lay.text_block(canvas, proof, MARGIN, y, ROOM, size=10, max_lines=6)
    widget = QrCodeWidget(doc.digest, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(QR_SIZE, QR_SIZE, transform=[QR_SIZE / (x1 - x0), 0, 0,
                                                  QR_SIZE / (y1 - y0), 0, 0])  # fmt: skip
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, MARGIN, y - QR_SIZE - 12)
    text_x = MARGIN + QR_SIZE + 18
    room = ROOM - QR_SIZE - 18
    ty = lay.text_block(canvas, "Receipt digest (SHA-256)", text_x, y - 12, room, size=10,
                        max_lines=1, bold=True)  # fmt: skip
    ty = lay.text_block(canvas, doc.digest[:32], text_x, ty, room, size=9, max_lines=1)
    ty = lay.text_block(canvas, doc.digest[32:], text_x, ty, room, size=9, max_lines=1)
    lay.text_block(canvas, f"Check it: {doc.verify_url}", text_x, ty - 8, room, size=9,
                   max_lines=3)  # fmt: skip
    return lay.finish(canvas, buffer)


def certificate_of(receipt: Mapping[str, Any]) -> CertificateData:
    """The certificate's content, read from a receipt (postex-receipt-v1)."""
    head, sigs = parse(receipt["checkpoint"])
    bodies = [json.loads(e["body"]) for e in receipt["events"]]
    first = bodies[0]
    events = tuple(
        ProvenEvent(
            e["label"], e["recorded_at"], e["seq"], b.get("weight_g"),
            b.get("site") or b.get("origin_site") or receipt["site"],
        )
        for e, b in zip(receipt["events"], bodies, strict=True)
    )  # fmt: skip
    return CertificateData(
        receipt["item_id"], receipt["site"], str(first.get("service", "")),
        str(first.get("destination", "")), events, head.size,
        base64.b64encode(head.root).decode(), len(sigs) > 1, receipt["digest"],
        f"/api/v1/items/{receipt['item_id']}/receipt",
    )  # fmt: skip
