"""EMSEVT CSV reader: item tracking events from partners, one per row (after UPU M40).

Columns, in this order, with a header row::

    item_id,event_code,occurred_at,office,reason_code,next_office

File-level problems (too large, not UTF-8, wrong header) raise ValidationError; each bad
row becomes a :class:`RowError` with its 1-based line number, so good rows still count.
"""

from __future__ import annotations

import csv
import io
import re

from postex.edi._xml import aware_timestamp
from postex.edi.models import EmsevtRow, RowError
from postex.kernel.dispatch_ids import is_impc_code
from postex.kernel.errors import FieldError, ValidationError
from postex.kernel.ids import S10

COLUMNS = ("item_id", "event_code", "occurred_at", "office", "reason_code", "next_office")
MAX_FILE_BYTES = 32 * 1024 * 1024
# UPU M40 event codes (docs: UPU.md section 3).
EVENT_CODES = frozenset(
    {
        "EMA",
        "EMB",
        "EXA",
        "EXB",
        "EXC",
        "EXD",
        "EXX",
        "EMC",
        "EMJ",
        "EMK",
        "EMD",
        "EDA",
        "EDB",
        "EME",
        "EDC",
        "EMF",
        "EDD",
        "EDE",
        "EMG",
        "EDF",
        "EDG",
        "EDH",
        "EMH",
        "EMI",
    }
)
REASON_REQUIRED = frozenset({"EXX"})
_REASON = re.compile(r"[A-Z0-9]{1,3}")


def _check(values: list[str], line: int) -> EmsevtRow | RowError:
    if len(values) != len(COLUMNS):
        error = FieldError("row", "columns", len(values), f"expected {len(COLUMNS)} columns")
        return RowError(line, (error.on_line(line),))
    item_id, code, raw_time, office, reason, next_office = (v.strip() for v in values)
    errors: list[FieldError] = []
    try:
        S10.parse(item_id, field="item_id")
    except ValidationError as exc:
        errors.extend(exc.errors)
    if code not in EVENT_CODES:
        errors.append(
            FieldError("event_code", "unknown_event_code", code, "not an EMSEVT event code")
        )
    occurred_at = aware_timestamp(raw_time)
    if occurred_at is None:
        errors.append(
            FieldError("occurred_at", "timestamp", raw_time, "ISO 8601 date-time with offset")
        )
    if not is_impc_code(office):
        errors.append(FieldError("office", "impc_format", office, "6 letters A–Z"))
    if reason and _REASON.fullmatch(reason) is None:
        errors.append(FieldError("reason_code", "reason_format", reason, "1–3 of A–Z, 0–9"))
    if not reason and code in REASON_REQUIRED:
        errors.append(FieldError("reason_code", "required", reason, f"{code} needs a reason"))
    if next_office and not is_impc_code(next_office):
        errors.append(FieldError("next_office", "impc_format", next_office, "6 letters A–Z"))
    if errors or occurred_at is None:
        return RowError(line, tuple(e.on_line(line) for e in errors))
    return EmsevtRow(line, item_id, code, occurred_at, office, reason or None, next_office or None)


def read_emsevt_csv(data: bytes) -> list[EmsevtRow | RowError]:
    """Read an EMSEVT CSV file into valid rows and row errors, in file order.

    Raises ValidationError (never anything else) for the whole file when it is larger
    than MAX_FILE_BYTES (rule ``too_large``), not UTF-8 (``encoding``), or does not start
    with the header row (``header``). Blank lines are skipped.
    """
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError.single("file", "too_large", len(data), "file is too large")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError.single(
            "file", "encoding", f"byte {exc.start}", "the file must be UTF-8"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    results: list[EmsevtRow | RowError] = []
    header_seen = False
    while True:
        line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if not header_seen:
                raise ValidationError.single(
                    "header", "csv", str(exc), "unreadable header"
                ) from None
            results.append(RowError(line, (FieldError("row", "csv", str(exc), "bad CSV", line),)))
            continue
        if not values:
            continue
        if not header_seen:
            if tuple(v.strip() for v in values) != COLUMNS:
                raise ValidationError.single(
                    "header", "header", ",".join(values), "header must be " + ",".join(COLUMNS)
                )
            header_seen = True
            continue
        results.append(_check(values, line))
    if not header_seen:
        raise ValidationError.single("header", "header", "", "the file is empty")
    return results
