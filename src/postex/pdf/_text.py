"""Fonts, text cleaning, wrapping and the number formats printed on postal forms.

Text comes from customers and may hold any Unicode. We print it with the widest font found
(DejaVu Sans where the system has it, else Bitstream Vera, which ships inside reportlab) and
replace what that font cannot draw with ``?`` rather than fail: a label with one unreadable
character still travels, a crashed label printer does not.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from postex.kernel import text as text_policy

REGULAR = "PostexSans"
BOLD = "PostexSans-Bold"
_CANDIDATES: tuple[tuple[str, str], ...] = (
    (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    ),
    ("Vera.ttf", "VeraBd.ttf"),  # found on reportlab's own font search path
)
REPLACEMENT = "?"
ELLIPSIS = "…"


@dataclass(frozen=True)
class _Fonts:
    covered: frozenset[int]


@cache
def _fonts() -> _Fonts:
    """Register the first usable candidate pair once per process; return the characters it draws."""
    for regular, bold in _CANDIDATES:
        if regular.startswith("/") and not (Path(regular).is_file() and Path(bold).is_file()):
            continue
        fonts = (TTFont(REGULAR, regular), TTFont(BOLD, bold))
        for font in fonts:
            pdfmetrics.registerFont(font)
        maps = [set(font.face.charToGlyph) for font in fonts]
        return _Fonts(frozenset(maps[0] & maps[1]))
    raise RuntimeError("reportlab ships Vera.ttf; its absence means a broken install")


def ensure_fonts() -> None:
    """Make ``REGULAR`` and ``BOLD`` usable on a canvas."""
    _fonts()


def clean(text: str) -> str:
    """One printable line: whitespace collapsed, invisible controls dropped, undrawable → ``?``."""
    covered = _fonts().covered
    out: list[str] = []
    for ch in text_policy.normalise(text):
        kind = unicodedata.category(ch)
        if text_policy.forbidden(ch, multiline=True) is not None and kind != "Cc":
            out.append(REPLACEMENT)  # refused at the edge (kernel.text); never drawn
        elif kind[0] == "Z" or kind == "Cc":
            out.append(" ")
        elif kind == "Cf":
            continue  # joiners and direction marks: nothing to draw
        elif ord(ch) in covered and kind not in ("Cs", "Co", "Cn"):
            out.append(ch)
        else:
            out.append(REPLACEMENT)
    return " ".join("".join(out).split())


def width(text: str, font: str, size: float) -> float:
    return float(pdfmetrics.stringWidth(text, font, size))


def _longest_prefix(word: str, font: str, size: float, room: float) -> int:
    """Length of the longest prefix of ``word`` within ``room`` (at least one character)."""
    low, high = 1, len(word)
    while low < high:
        mid = (low + high + 1) // 2
        if width(word[:mid], font, size) <= room:
            low = mid
        else:
            high = mid - 1
    return low


def wrap(text: str, font: str, size: float, room: float) -> list[str]:
    """Break cleaned text into lines no wider than ``room``, splitting words that cannot fit."""
    lines: list[str] = []
    current = ""
    for word in clean(text).split(" "):
        candidate = f"{current} {word}" if current else word
        if width(candidate, font, size) <= room:
            current = candidate
            continue
        if current:
            lines.append(current)
        rest = word
        while len(rest) > 1 and width(rest, font, size) > room:
            cut = _longest_prefix(rest, font, size, room)
            lines.append(rest[:cut])
            rest = rest[cut:]
        current = rest
    if current:
        lines.append(current)
    return lines


def fit(text: str, font: str, size: float, room: float, max_lines: int) -> list[str]:
    """Wrapped lines, at most ``max_lines``; a cut is marked with an ellipsis on the last line."""
    lines = wrap(text, font, size, room)
    if len(lines) <= max_lines:
        return lines
    kept = lines[:max_lines]
    last = kept[-1]
    while last and width(last + ELLIPSIS, font, size) > room:
        last = last[:-1]
    kept[-1] = last + ELLIPSIS
    return kept


_ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"})
_ZERO_DECIMAL_MORE = frozenset({"RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"})
_THREE_DECIMAL = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def money(minor: int, currency: str) -> str:
    """Minor units as a decimal amount, with the currency's ISO 4217 exponent: 1250 GBP → 12.50."""
    if currency in _ZERO_DECIMAL or currency in _ZERO_DECIMAL_MORE:
        return str(minor)
    places = 3 if currency in _THREE_DECIMAL else 2
    whole, fraction = divmod(minor, 10**places)
    return f"{whole}.{fraction:0{places}d}"


def kg_from_g(grams: int) -> str:
    """Grams as kilograms with three decimals: 250 → 0.250."""
    whole, fraction = divmod(grams, 1000)
    return f"{whole}.{fraction:03d}"


def kg_from_hg(tenths: int) -> str:
    """Tenths of a kilogram as kilograms with one decimal: 123 → 12.3."""
    whole, fraction = divmod(tenths, 10)
    return f"{whole}.{fraction}"


def s10_readable(item_id: str) -> str:
    """The S10 id grouped for reading aloud: LA123456785GB → LA 123 456 785 GB."""
    return f"{item_id[:2]} {item_id[2:5]} {item_id[5:8]} {item_id[8:11]} {item_id[11:]}"
