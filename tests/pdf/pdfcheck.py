"""Reading rendered PDFs back the way a scanner and a reader would: barcodes, text, geometry."""

from __future__ import annotations

from datetime import date

import numpy as np
import pymupdf
import zxingcpp

from postex.pdf import Address, Category, ContentsLine, Office

SCAN_DPI = 200
SENDER = Address(
    name="Alice Sender",
    lines=("1 High Street",),
    city="London",
    postcode="SW1A 1AA",
    country="GB",
    phone="+44 20 7946 0000",
)
ADDRESSEE = Address(
    name="Åsa Müller",
    lines=("Königstraße 12", "Hinterhaus"),
    city="Berlin",
    postcode="10115",
    country="DE",
    company="ACME GmbH",
)
SHIRTS = ContentsLine(
    description="Cotton T-shirt, men's, size L",
    quantity=2,
    net_weight_g=250,
    value_minor=1250,
    hs_code="610910",
    origin_country="GB",
)
MUG = ContentsLine(
    description="Ceramic mug, boxed",
    quantity=1,
    net_weight_g=430,
    value_minor=899,
    hs_code="691200",
    origin_country="PT",
)
CATEGORY = Category.SALE_OF_GOODS
SIGNED_ON = date(2024, 5, 1)
HEATHROW = Office("GBLALA", "Heathrow Worldwide Distribution Centre")
JFK = Office("USJFKA", "New York JFK")


def open_pdf(data: bytes) -> pymupdf.Document:
    assert data.startswith(b"%PDF-")
    return pymupdf.open(stream=data, filetype="pdf")


def barcodes(page: pymupdf.Page) -> list[str]:
    """Code 128 symbols a scanner reads off the page rasterised at 200 dpi."""
    pix = page.get_pixmap(dpi=SCAN_DPI)
    image = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, pix.n)
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.Code128)
    return [symbol.text for symbol in found]


def text(page: pymupdf.Page) -> str:
    """The page's text, runs of whitespace (including wrapped line ends) as single spaces."""
    return " ".join(str(page.get_text()).split())


def all_text(document: pymupdf.Document) -> str:
    return "\n".join(text(page) for page in document)


def line_boxes(page: pymupdf.Page) -> list[tuple[pymupdf.Rect, str]]:
    boxes = []
    for block in page.get_text("dict")["blocks"]:
        for line in block.get("lines", []):
            words = "".join(span["text"] for span in line["spans"])
            boxes.append((pymupdf.Rect(line["bbox"]), words))
    return boxes


def assert_laid_out_cleanly(page: pymupdf.Page) -> None:
    """Every printed line lies inside the page and no two printed lines overlap."""
    boxes = line_boxes(page)
    area = page.rect
    for box, words in boxes:
        assert box.x0 >= area.x0 - 0.5, words
        assert box.x1 <= area.x1 + 0.5, words
        assert box.y0 >= area.y0 - 0.5, words
        assert box.y1 <= area.y1 + 0.5, words
    for n, (box, words) in enumerate(boxes):
        for other, other_words in boxes[n + 1 :]:
            common = box & other
            overlapping = not common.is_empty and common.width > 0.5 and common.height > 0.5
            assert not overlapping, (words, other_words)
