"""Manifests: up to 10,000 items in one request, as a JSON array or a CSV file.

CSV has one row per goods line; rows with the same ``reference`` form one item (item
columns on its later rows are left empty or repeat the first row's values). Every row is
checked before anything is written: by default one bad row rejects the whole manifest
with every broken rule listed by line number; with ``partial`` the good items are stored
and the bad ones reported. The column list is docs/api.md's "Manifest CSV columns".
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from postex.eventlog.context import Context
from postex.items.app.customer_items import Answer, create_items
from postex.items.app.idempotency import Idempotency
from postex.items.app.preadvice import ItemRecord
from postex.items.domain.addresses import PHONE
from postex.items.domain.items import PreAdvice, parse_pre_advice
from postex.kernel.errors import FieldError, ValidationError
from postex.kernel.validation import check_json_depth

MAX_ITEMS = 10_000
MAX_CSV_ROWS = 100_000
ADDRESS_PARTS = ("name", "company", "address_line_1", "address_line_2", "address_line_3",
                 "city", "region", "postcode", "country", "phone", "email")  # fmt: skip
ITEM_COLUMNS = (
    "reference", "service", "weight_g", "length_mm", "width_mm", "height_mm",
    *(f"sender_{p}" for p in ADDRESS_PARTS), *(f"addressee_{p}" for p in ADDRESS_PARTS),
    "contents_category", "invoice_number", "licence", "certificate", "comments",
    "importer_tax_id", "importer_ioss", "importer_eori",
)  # fmt: skip
LINE_COLUMNS = ("description", "quantity", "net_weight_g", "value_minor", "currency",
                "hs_code", "origin_country")  # fmt: skip
COLUMNS = (*ITEM_COLUMNS, *LINE_COLUMNS)
REQUIRED_COLUMNS = ("service", "weight_g", "sender_name", "addressee_name", "contents_category")
INTEGER_COLUMNS = frozenset(
    {"weight_g", "length_mm", "width_mm", "height_mm", "quantity", "net_weight_g", "value_minor"}
)
FORMULA_CHARS = frozenset("=+-@\t\r")
PHONE_COLUMNS = frozenset({"sender_phone", "addressee_phone"})
_PARTS = ("name", "company", "city", "region", "postcode", "country", "phone", "email")
SENDER_KEYS = tuple((p, f"sender_{p}") for p in _PARTS)
ADDRESSEE_KEYS = tuple((p, f"addressee_{p}") for p in _PARTS)
INTEGER = re.compile(r"^-?[0-9]{1,16}$")


@dataclass
class Entry:
    """One item of a manifest: where it starts, its data, and each goods line's row."""

    line: int
    data: dict[str, Any]
    line_rows: list[int] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)


def _fail(line: int, column: str, rule: str, value: object, message: str) -> FieldError:
    return FieldError(column, rule, value, message, line)


# --- JSON ---------------------------------------------------------------------------------
def entries_from_json(value: object) -> list[Entry]:
    """A JSON manifest is an array of items; ``line`` is an item's 1-based position."""
    if not isinstance(value, list):
        raise ValidationError.single("body", "type", None, "a JSON manifest is an array of items")
    _check_count(len(value))
    return [
        Entry(i, v)
        if isinstance(v, dict)
        else Entry(i, {}, [], [_fail(i, "item", "type", None, "each item is a JSON object")])
        for i, v in enumerate(value, 1)
    ]


def _check_count(n: int) -> None:
    if n == 0:
        raise ValidationError.single("body", "min_items", 0, "a manifest has at least one item")
    if n > MAX_ITEMS:
        raise ValidationError.single(
            "body", "max_items", n, f"a manifest has at most {MAX_ITEMS} items; split it"
        )


# --- CSV ----------------------------------------------------------------------------------
def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ValidationError(
            [_fail(line, "file", "encoding", f"byte {exc.start}", "a CSV manifest is UTF-8")]
        ) from None


def _header(row: list[str]) -> list[str]:
    names = [h.strip() for h in row]
    errors = []
    for name in names:
        if name not in COLUMNS:
            errors.append(_fail(1, name, "unknown_field", name, f"unknown column {name!r}"))
    for name in {n for n in names if names.count(n) > 1}:
        errors.append(_fail(1, name, "duplicate_column", name, f"column {name!r} appears twice"))
    for name in REQUIRED_COLUMNS:
        if name not in names:
            errors.append(_fail(1, name, "required_column", None, f"column {name!r} is required"))
    if errors:
        raise ValidationError(errors)
    return names


def looks_like_formula(value: str) -> bool:
    """Whether a spreadsheet could take the cell for a formula: it starts with = + - @, a tab
    or a carriage return, also after NFKC (a full-width ＝ is =) and after leading
    whitespace and invisible format characters (zero-width space, BOM, direction marks)."""
    if not value:
        return False
    if value[0] in FORMULA_CHARS:
        return True
    text = unicodedata.normalize("NFKC", value)
    start = 0
    while start < len(text) and (
        text[start].isspace() or unicodedata.category(text[start]) in ("Cf", "Cc", "Zs")
    ):
        start += 1
    return start < len(text) and text[start] in FORMULA_CHARS


def _cell_errors(line: int, cells: dict[str, object]) -> list[FieldError]:
    errors = []
    for column, value in cells.items():
        if (
            isinstance(value, str)
            and looks_like_formula(value)
            and column not in INTEGER_COLUMNS
            and not (column in PHONE_COLUMNS and PHONE.fullmatch(value))
        ):
            errors.append(
                _fail(line, column, "csv_formula", value,
                      "text may not start with = + - @ (spreadsheet formula)")
            )  # fmt: skip
    return errors


def _number(value: str) -> object:
    if value.isascii() and value.isdigit() and len(value) <= 16:
        return int(value)
    return int(value) if INTEGER.fullmatch(value) else value


def _cells(row: dict[str, str]) -> dict[str, object]:
    """The row's non-empty cells, whole numbers converted in the integer columns."""
    return {k: (_number(v) if k in INTEGER_COLUMNS else v) for k, v in row.items() if v != ""}


def _address(
    cells: dict[str, object], keys: tuple[tuple[str, str], ...], who: str
) -> dict[str, Any]:
    out: dict[str, Any] = {part: cells[key] for part, key in keys if key in cells}
    out["address_lines"] = [
        cells[k] for k in (f"{who}_address_line_{n}" for n in (1, 2, 3)) if k in cells
    ]
    return out


def _item(cells: dict[str, object]) -> dict[str, Any]:
    dims = {k: cells.get(f"{k}_mm") for k in ("length", "width", "height")}
    contents: dict[str, Any] = {"category": cells.get("contents_category"), "lines": []}
    for key in ("invoice_number", "licence", "certificate", "comments"):
        if key in cells:
            contents[key] = cells[key]
    importer = {
        k: cells[f"importer_{k}"] for k in ("tax_id", "ioss", "eori") if f"importer_{k}" in cells
    }
    return {
        "service": cells.get("service"),
        "reference": cells.get("reference"),
        "sender": _address(cells, SENDER_KEYS, "sender"),
        "addressee": _address(cells, ADDRESSEE_KEYS, "addressee"),
        "weight_g": cells.get("weight_g"),
        "dimensions_mm": dims if any(v is not None for v in dims.values()) else None,
        "contents": contents,
        "importer": importer or None,
    }


def _goods_line(cells: dict[str, object]) -> dict[str, Any] | None:
    line = {c: cells[c] for c in LINE_COLUMNS if c in cells}
    return line or None


def entries_from_csv(raw: bytes) -> list[Entry]:
    """Group CSV rows into items; ValidationError for encoding, header or size problems."""
    text = _decode(raw)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = _header(next(reader, []))
        groups: dict[str, Entry] = {}
        entries: list[Entry] = []
        first_rows: dict[int, dict[str, object]] = {}
        for rows, cells in enumerate(reader, 1):
            line = reader.line_num
            if rows > MAX_CSV_ROWS:
                raise ValidationError.single(
                    "file", "max_rows", rows, f"a CSV manifest has at most {MAX_CSV_ROWS} rows"
                )
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                message = f"the row has {len(cells)} fields; the header has {len(header)}"
                bad = _fail(line, "row", "column_count", len(cells), message)
                entries.append(Entry(line, {}, [], [bad]))
                continue
            row = _cells(dict(zip(header, cells, strict=True)))
            ref = row.get("reference", "")
            entry = groups.get(ref) if isinstance(ref, str) and ref else None
            if entry is None:
                entry = Entry(line, _item(row))
                entries.append(entry)
                first_rows[id(entry)] = row
                if isinstance(ref, str) and ref:
                    groups[ref] = entry
            else:
                first = first_rows[id(entry)]
                for col in ITEM_COLUMNS:
                    if col in row and row[col] != first.get(col):
                        entry.errors.append(_fail(
                            line, col, "item_columns_differ", row[col],
                            f"rows of reference {ref!r} must repeat the item's {col} or leave "
                            "it empty"))  # fmt: skip
            entry.errors.extend(_cell_errors(line, row))
            goods = _goods_line(row)
            if goods is not None:
                entry.data["contents"]["lines"].append(goods)
                entry.line_rows.append(line)
    except csv.Error as exc:
        raise ValidationError.single(
            "file", "csv_syntax", str(exc), "not a valid CSV file"
        ) from None
    _check_count(len(entries))
    return entries


def entry_from_form(item: dict[str, str], lines: Sequence[dict[str, str]]) -> Entry:
    """One item from a form whose fields are the CSV's item columns, with goods lines
    numbered from 1 (an empty line is left out); errors name the column and, for a goods
    line, its number as the line."""
    cells = _cells({k: v for k, v in item.items() if k in ITEM_COLUMNS})
    entry = Entry(1, _item(cells), errors=_cell_errors(1, cells))
    for n, line in enumerate(lines, 1):
        goods = _goods_line(_cells({k: v for k, v in line.items() if k in LINE_COLUMNS}))
        if goods is not None:
            entry.data["contents"]["lines"].append(goods)
            entry.line_rows.append(n)
            entry.errors.extend(_cell_errors(n, goods))
    return entry


def remap_csv(raw: bytes, mapping: dict[str, str]) -> bytes:
    """A foreign CSV in the manifest's columns: ``mapping`` names, for a column of ours,
    the header the sender's file gives it. Mapped columns are renamed, columns already named
    as ours are kept, and every other column is left out; rows keep their line numbers."""
    text = _decode(raw)
    theirs = {header.strip(): ours for ours, header in mapping.items()}
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    try:
        header = [h.strip() for h in next(reader, [])]
        keep = [(i, theirs.get(h, h)) for i, h in enumerate(header)
                if h in theirs or (h in COLUMNS and h not in mapping)]  # fmt: skip
        writer.writerow([name for _, name in keep])
        for cells in reader:
            writer.writerow([cells[i] if i < len(cells) else "" for i, _ in keep])
    except csv.Error as exc:
        raise ValidationError.single(
            "file", "csv_syntax", str(exc), "not a valid CSV file"
        ) from None
    return out.getvalue().encode()


_CSV_PATH = re.compile(r"^(sender|addressee)\.(address_lines)\.(\d+)$")


def csv_location(entry: Entry, error: FieldError) -> FieldError:
    """Name a domain error by CSV column and by the row it came from."""
    path = error.field
    line = entry.line
    column = path
    if m := re.fullmatch(r"contents\.lines\.(\d+)\.(\w+)", path):
        index = int(m.group(1))
        line = entry.line_rows[index] if index < len(entry.line_rows) else line
        column = m.group(2)
    elif m := _CSV_PATH.fullmatch(path):
        column = f"{m.group(1)}_address_line_{int(m.group(3)) + 1}"
    elif m := re.fullmatch(r"(sender|addressee)\.(\w+)", path):
        column = f"{m.group(1)}_{m.group(2)}"
    elif m := re.fullmatch(r"dimensions_mm\.(\w+)", path):
        column = f"{m.group(1)}_mm"
    elif path == "contents.category":
        column = "contents_category"
    elif m := re.fullmatch(r"contents\.(\w+)", path):
        column = m.group(1)
    elif m := re.fullmatch(r"importer\.(\w+)", path):
        column = f"importer_{m.group(1)}"
    return FieldError(column, error.rule, error.value, error.message, line, error.extra)


# --- checking and storing -----------------------------------------------------------------
@dataclass(frozen=True)
class Checked:
    good: list[tuple[int, PreAdvice]]
    errors: list[FieldError]


def check_entries(entries: Sequence[Entry], origin_country: str, csv_rows: bool) -> Checked:
    """Validate every entry; errors carry line numbers (CSV rows or array positions)."""
    good: list[tuple[int, PreAdvice]] = []
    errors: list[FieldError] = []
    for entry in entries:
        found = list(entry.errors)
        advice = None
        if entry.data:
            try:
                advice = parse_pre_advice(entry.data, origin_country)
            except ValidationError as exc:
                found.extend(
                    csv_location(entry, e) if csv_rows else e.on_line(entry.line)
                    for e in exc.errors
                )
        if found:
            errors.extend(found)
        elif advice is not None:
            good.append((entry.line, advice))
    return Checked(good, errors)


ManifestRender = Callable[
    [list[tuple[int, ItemRecord, PreAdvice]], list[FieldError]], dict[str, Any]
]


def submit_manifest(
    ctx: Context,
    customer_id: str,
    checked: Checked,
    render: ManifestRender,
    partial: bool = False,
    idem: Idempotency | None = None,
) -> Answer:
    """Store the manifest's items in one transaction, or nothing.

    Raises ValidationError listing every bad row unless ``partial`` (then only when no
    row at all is good).
    """
    if checked.errors and (not partial or not checked.good):
        bad_lines = len({e.line for e in checked.errors})
        raise ValidationError(
            checked.errors,
            detail=f"{bad_lines} of the manifest's items break rules; nothing was stored",
        )
    lines = [line for line, _ in checked.good]

    def body(records: list[ItemRecord], advices: Sequence[PreAdvice]) -> dict[str, Any]:
        rows = list(zip(lines, records, advices, strict=True))
        return render(rows, checked.errors)

    return create_items(ctx, customer_id, [a for _, a in checked.good], body, idem)


def parse_json_body(raw: bytes) -> object:
    """Decode a JSON request body; ValidationError (not a crash) for anything malformed."""
    try:
        value = json.loads(raw)
    except RecursionError:  # nested deeper than the decoder can follow
        raise ValidationError.single("body", "json", None, "JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError.single("body", "json", None, f"not valid UTF-8 JSON: {exc}") from None
    check_json_depth(raw)
    return value
