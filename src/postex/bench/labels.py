"""``postex bench labels``: how long one 4×6 label with a full address and a CN22 takes.

The label is the one a sender's portal prints by the hundred: both parties with company,
three street lines and region, the full service name, a CN22 with three goods lines. The
baseline in the same run is the bare minimum any label costs: an empty page with the same
fonts and the barcode alone.
"""

from __future__ import annotations

import io
import statistics
import time
from dataclasses import dataclass
from datetime import date

from postex.bench.common import machine
from postex.cli.common import out
from postex.pdf import Address, Category, Cn22Data, ContentsLine, LabelData, render_label
from postex.pdf import _layout as lay

GOAL_MS = 20.0
ITEM = "LA123456785GB"
SENDER = Address(
    name="Margaret Thistlewood",
    company="Thistle & Thread Ltd",
    lines=("Unit 4, Riverside Industrial Estate", "14 Marigold Lane", "Wharf Road"),
    city="Manchester",
    postcode="M1 1AE",
    country="GB",
    phone="+44 161 496 0000",
    email="orders@thistle.example",
)
ADDRESSEE = Address(
    name="Bartholomew Quincey",
    company="Quincey Imports LLC",
    lines=("2200 Juniper Boulevard", "Apt 7", "Receiving dock B"),
    city="Chicago",
    region="IL",
    postcode="60601",
    country="US",
    phone="+1 312 555 0100",
    email="bart.quincey@example.com",
)
GOODS = tuple(
    ContentsLine(description, 2, 300, 2500, "610910", "GB")
    for description in ("Cotton T-shirt, men's, size L", "Wool scarf, tartan", "Ceramic mug")
)
LABEL = LabelData(
    item_id=ITEM,
    service="International Tracked & Signed (registered letter post)",
    sender=SENDER,
    addressee=ADDRESSEE,
    weight_g=1200,
    cn22=Cn22Data(
        Category.SALE_OF_GOODS, GOODS, "GBP", 1200, date(2026, 12, 5), "M. Thistlewood",
        operator="Royal Mail",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class LabelsResult:
    runs: int
    median_ms: float
    p95_ms: float
    baseline_ms: float
    pages_per_s: float


def _barcode_only() -> bytes:
    buffer = io.BytesIO()
    canvas = lay.new_canvas(buffer, (288, 432), "baseline")
    lay.barcode(canvas, ITEM, 10, 350, room=268, bar_height=50)
    return lay.finish(canvas, buffer)


def _timed(fn: object, runs: int) -> list[float]:
    assert callable(fn)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def bench_labels(runs: int) -> LabelsResult:
    render_label(LABEL)  # fonts registered, dataset rules cached: what a running server has
    _barcode_only()
    label = sorted(_timed(lambda: render_label(LABEL), runs))
    base = _timed(_barcode_only, runs)
    median = statistics.median(label)
    return LabelsResult(
        runs=runs,
        median_ms=median,
        p95_ms=label[min(len(label) - 1, int(len(label) * 0.95))],
        baseline_ms=statistics.median(base),
        pages_per_s=1000 / median if median else 0.0,
    )


def report(result: LabelsResult) -> None:
    from rich.table import Table

    table = Table(title=f"postex bench labels — {machine()}")
    for col in ("runs", "label median ms", "p95 ms", "barcode-only page ms", "labels/s", "goal"):
        table.add_column(col, justify="right")
    verdict = "met" if result.median_ms < GOAL_MS else "MISSED"
    table.add_row(
        str(result.runs),
        f"{result.median_ms:.2f}",
        f"{result.p95_ms:.2f}",
        f"{result.baseline_ms:.2f}",
        f"{result.pages_per_s:,.0f}",
        f"< {GOAL_MS:.0f} ms: {verdict}",
    )
    out.print(table)
