"""Drawing shared by the forms: the canvas, bounded text blocks, barcodes, boxes and tables.

Every block takes a width and a line budget and returns where it ended, so a form is laid out
top-down and can never run off its page: text that does not fit is cut with an ellipsis.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import pycountry
from reportlab.graphics.barcode.code128 import Code128
from reportlab.pdfgen.canvas import Canvas

from postex.kernel.addressing import format_lines
from postex.pdf._text import BOLD, REGULAR, ensure_fonts, fit, width
from postex.pdf.models import Address, Category

LEADING = 1.2
QUIET_MODULES = 10
MIN_BAR_WIDTH = 0.9  # points: 2.5 pixels at 200 dpi, 2.5 dots on a 203 dpi thermal printer
MAX_BAR_WIDTH = 2.0
GREY = 0.88


def new_canvas(buffer: io.BytesIO, size: tuple[float, float], title: str) -> Canvas:
    """A canvas with our fonts, metadata, and no timestamps: the same input gives the same bytes."""
    ensure_fonts()
    canvas = Canvas(buffer, pagesize=size, invariant=True, pageCompression=1)
    canvas.setTitle(title)
    canvas.setAuthor("Postex")
    canvas.setCreator("Postex")
    return canvas


def finish(canvas: Canvas, buffer: io.BytesIO) -> bytes:
    """Close the last page and return the document."""
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def text_block(
    canvas: Canvas,
    text: str,
    x: float,
    top: float,
    room: float,
    *,
    size: float,
    max_lines: int,
    bold: bool = False,
    align: Literal["left", "right", "centre"] = "left",
) -> float:
    """Draw ``text`` wrapped into ``room`` below ``top``; return the y just below it."""
    font = BOLD if bold else REGULAR
    leading = size * LEADING
    y = top
    for line in fit(text, font, size, room, max_lines):
        y -= leading
        canvas.setFont(font, size)
        baseline = y + size * 0.22
        if align == "right":
            canvas.drawRightString(x + room, baseline, line)
        elif align == "centre":
            canvas.drawCentredString(x + room / 2, baseline, line)
        else:
            canvas.drawString(x, baseline, line)
    return y


def lines_block(
    canvas: Canvas,
    lines: Sequence[str],
    x: float,
    top: float,
    room: float,
    *,
    size: float,
    max_lines: int,
) -> float:
    """Draw several logical lines, each wrapped, sharing one budget of printed lines."""
    y = top
    budget = max_lines
    for line in lines:
        if budget <= 0 or not line.strip():
            continue
        used = len(fit(line, REGULAR, size, room, budget))
        y = text_block(canvas, line, x, y, room, size=size, max_lines=budget)
        budget -= used
    return y


def barcode(
    canvas: Canvas, value: str, x: float, y: float, *, room: float, bar_height: float
) -> None:
    """Code 128 of ``value`` centred in ``room`` from ``x``, bars from ``y`` up, quiet zones kept.

    Raises ``ValueError`` if ``room`` cannot hold the code at a bar width that scans reliably.
    """
    modules = Code128(value, barWidth=1, barHeight=bar_height, humanReadable=0, quiet=0).width
    bar_width = min(MAX_BAR_WIDTH, room / (modules + 2 * QUIET_MODULES))
    if bar_width < MIN_BAR_WIDTH:
        raise ValueError(f"{room:.0f} pt is too narrow for a scannable barcode of {value!r}")
    code = Code128(value, barWidth=bar_width, barHeight=bar_height, humanReadable=0, quiet=0)
    code.drawOn(canvas, x + (room - code.width) / 2, y)


def rule(canvas: Canvas, x: float, y: float, room: float, weight: float = 0.8) -> None:
    canvas.setLineWidth(weight)
    canvas.line(x, y, x + room, y)


def checkbox(
    canvas: Canvas, x: float, top: float, label: str, *, ticked: bool, size: float
) -> float:
    """A square box, ticked or not, followed by its label; return the x after the label."""
    side = size
    canvas.setLineWidth(0.6)
    canvas.rect(x, top - side, side, side)
    if ticked:
        canvas.setLineWidth(1.2)
        canvas.line(x + 1.5, top - side / 2, x + side / 2.5, top - side + 1.5)
        canvas.line(x + side / 2.5, top - side + 1.5, x + side - 1.2, top - 1.2)
    canvas.setFont(BOLD if ticked else REGULAR, size)
    canvas.drawString(x + side + 2, top - side + size * 0.15, label)
    return x + side + 4 + width(label, BOLD if ticked else REGULAR, size)


@dataclass(frozen=True)
class Column:
    title: str
    width: float
    align: Literal["left", "right"] = "left"


@dataclass(frozen=True)
class Table:
    """A ruled table whose rows wrap each cell into at most ``max_lines`` lines."""

    columns: tuple[Column, ...]
    size: float
    max_lines: int = 3
    padding: float = 2.0

    @property
    def width(self) -> float:
        return sum(column.width for column in self.columns)

    def layout(self, cells: Sequence[str], *, bold: bool = False) -> list[list[str]]:
        font = BOLD if bold else REGULAR
        return [
            fit(cell, font, self.size, column.width - 2 * self.padding, self.max_lines) or [""]
            for cell, column in zip(cells, self.columns, strict=True)
        ]

    def height(self, laid: list[list[str]]) -> float:
        return max(len(cell) for cell in laid) * self.size * LEADING + 2 * self.padding

    def draw(
        self, canvas: Canvas, x: float, top: float, laid: list[list[str]], *, bold: bool = False
    ) -> float:
        """Draw one laid-out row with its top at ``top``; return the y of its bottom rule."""
        bottom = top - self.height(laid)
        if bold:
            canvas.setFillGray(GREY)
            canvas.rect(x, bottom, self.width, top - bottom, stroke=0, fill=1)
            canvas.setFillGray(0)
        left = x
        for cell, column in zip(laid, self.columns, strict=True):
            room = column.width - 2 * self.padding
            y = top - self.padding
            for line in cell:
                y -= self.size * LEADING
                canvas.setFont(BOLD if bold else REGULAR, self.size)
                baseline = y + self.size * 0.22
                if column.align == "right":
                    canvas.drawRightString(left + self.padding + room, baseline, line)
                else:
                    canvas.drawString(left + self.padding, baseline, line)
            left += column.width
        rule(canvas, x, bottom, self.width, 0.4)
        return bottom

    def header(self, canvas: Canvas, x: float, top: float) -> float:
        laid = self.layout([column.title for column in self.columns], bold=True)
        return self.draw(canvas, x, top, laid, bold=True)


class Pages:
    """A top-down cursor over same-size pages, each footed with ``running`` and its number.

    ``header`` draws a continuation page's heading and returns the y below it.
    """

    def __init__(
        self,
        canvas: Canvas,
        size: tuple[float, float],
        margin: float,
        running: str,
        header: Callable[[Canvas, float], float],
    ) -> None:
        self.canvas = canvas
        self.size = size
        self.margin = margin
        self.running = running
        self.header = header
        self.number = 1
        self.y = size[1] - margin

    @property
    def room(self) -> float:
        return self.size[0] - 2 * self.margin

    def _foot(self) -> None:
        text = f"{self.running} · page {self.number}"
        text_block(
            self.canvas,
            text,
            self.margin,
            self.margin,
            self.room,
            size=7,
            max_lines=1,
            align="centre",
        )

    def ensure(self, height: float) -> bool:
        """Start a new page unless ``height`` fits above the footer; say whether one started."""
        if self.y - height >= self.margin + 12:
            return False
        self._foot()
        self.canvas.showPage()
        self.number += 1
        self.y = self.header(self.canvas, self.size[1] - self.margin)
        return True

    def finish(self, buffer: io.BytesIO) -> bytes:
        self._foot()
        return finish(self.canvas, buffer)

    def close(self) -> None:
        """Foot and end the last page, leaving the canvas open for more documents."""
        self._foot()
        self.canvas.showPage()

    def table(self, table: Table, rows: Iterable[Sequence[str]]) -> None:
        """Flow rows under a header that is repeated on every page the table reaches."""
        self.ensure(3 * table.size * LEADING * 2)
        self.y = table.header(self.canvas, self.margin, self.y)
        for row in rows:
            laid = table.layout(row)
            if self.ensure(table.height(laid)):
                self.y = table.header(self.canvas, self.margin, self.y)
            self.y = table.draw(self.canvas, self.margin, self.y, laid)


CATEGORY_LABELS: dict[Category, str] = {
    Category.GIFT: "Gift",
    Category.DOCUMENTS: "Documents",
    Category.COMMERCIAL_SAMPLE: "Commercial sample",
    Category.RETURNED_GOODS: "Returned goods",
    Category.SALE_OF_GOODS: "Sale of goods",
    Category.OTHER: "Other",
}

MAIL_CATEGORIES = {
    "A": "Priority / airmail",
    "B": "S.A.L.",
    "C": "Surface",
    "D": "Priority by surface",
}
MAIL_CLASSES = {"U": "Letter post", "C": "Parcels", "E": "EMS"}


def mail_category(code: str) -> str:
    """``A – Priority / airmail`` for the category letter of an S8 or S9 id."""
    return f"{code} – {MAIL_CATEGORIES.get(code, 'unknown')}"


def mail_subclass(code: str) -> str:
    """``UN – Letter post``: the subclass with the mail class its first letter names."""
    return f"{code} – {MAIL_CLASSES.get(code[0], 'other')}"


def facts(
    canvas: Canvas,
    pairs: Sequence[tuple[str, str]],
    x: float,
    top: float,
    *,
    room: float,
    max_lines: int = 2,
) -> float:
    """Caption-over-value cells, three to a row; return the y below the last row."""
    third = room / 3
    y = top
    for start in range(0, len(pairs), 3):
        ends = []
        for n, (caption, value) in enumerate(pairs[start : start + 3]):
            left = x + n * third
            below = text_block(canvas, caption, left, y, third - 6, size=7, max_lines=1)
            ends.append(
                text_block(
                    canvas, value, left, below, third - 6, size=11, max_lines=max_lines, bold=True
                )
            )
        y = min(ends) - 4
    return y


def category_boxes(
    canvas: Canvas, chosen: Category, x: float, top: float, *, room: float, size: float
) -> float:
    """The six category boxes in two rows of three, ``chosen`` ticked; return the y below."""
    y = top
    categories = list(Category)
    for row in (categories[:3], categories[3:]):
        for n, category in enumerate(row):
            label = CATEGORY_LABELS[category]
            checkbox(canvas, x + n * room / 3, y, label, ticked=category == chosen, size=size)
        y -= size * 1.5
    return y


def country_name(code: str) -> str:
    """The country in capitals, as the UPU asks for the last address line; the code if unknown."""
    country = pycountry.countries.get(alpha_2=code.upper()) if len(code) == 2 else None
    return str(country.name).upper() if country is not None else code.upper()


def address_rows(address: Address) -> list[tuple[str, bool]]:
    """The printed lines of an address, each with whether it is bold (name and country).

    The lines follow the destination's own format (``postex.kernel.addressing``), then the
    contacts, then the COUNTRY in capitals.
    """
    formatted = format_lines(
        country=address.country.upper(),
        name=address.name,
        company=address.company,
        address_lines=address.lines,
        city=address.city,
        region=address.region,
        postcode=address.postcode,
    )
    name = address.name.strip().upper()
    rows = [(line, line.strip().upper() == name) for line in formatted]
    contacts = " · ".join(part for part in (address.phone, address.email) if part)
    if contacts:
        rows.append((contacts, False))
    rows.append((country_name(address.country), True))
    return rows


def rows_height(rows: Sequence[tuple[str, bool]], room: float, size: float) -> float:
    """Height of ``rows`` wrapped into ``room`` at ``size``, nothing cut."""
    count = sum(
        len(fit(text, BOLD if bold else REGULAR, size, room, 99)) or 1 for text, bold in rows
    )
    return count * size * LEADING


def rows_block(
    canvas: Canvas,
    rows: Sequence[tuple[str, bool]],
    x: float,
    top: float,
    room: float,
    *,
    size: float,
    max_lines: int | None = None,
) -> float:
    """Draw every row wrapped into ``room``; return the y below the last.

    Nothing is cut unless ``max_lines`` is given: then the rows share that budget, the last
    row (the COUNTRY) keeps one line, and what does not fit is cut with an ellipsis.
    """
    if max_lines is None:
        y = top
        for text, bold in rows:
            if text.strip():
                y = text_block(canvas, text, x, y, room, size=size, max_lines=99, bold=bold)
        return y
    *body, last = rows
    budget = max(0, max_lines - 1)
    y = top
    for text, bold in body:
        if budget <= 0 or not text.strip():
            continue
        used = len(fit(text, BOLD if bold else REGULAR, size, room, budget))
        y = text_block(canvas, text, x, y, room, size=size, max_lines=budget, bold=bold)
        budget -= used
    return text_block(canvas, last[0], x, y, room, size=size, max_lines=1, bold=last[1])


def address_block(
    canvas: Canvas,
    address: Address,
    x: float,
    top: float,
    room: float,
    *,
    size: float,
    name_size: float,
    max_lines: int,
) -> float:
    """The address in the destination's format, contacts, then the COUNTRY (bold).

    Every line prints, wrapped; ``max_lines`` is a lower bound kept for callers, the block
    shrinks its type (down to 60 %) rather than cut when the lines need more than
    ``max_lines`` lines at ``size``. ``name_size`` is kept for callers and ignored.
    """
    del name_size
    rows = address_rows(address)
    budget = max_lines * size * LEADING + 2 * size * LEADING
    chosen = size
    while chosen > size * 0.6 and rows_height(rows, room, chosen) > budget:
        chosen -= 0.5
    return rows_block(canvas, rows, x, top, room, size=chosen)
