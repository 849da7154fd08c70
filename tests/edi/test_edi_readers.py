"""RESDIT and EMSEVT CSV readers: shipped examples, row errors, and hostile input."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postex.edi import EmsevtRow, RowError, read_emsevt_csv, read_resdit
from postex.kernel.errors import ValidationError

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
HEADER = b"item_id,event_code,occurred_at,office,reason_code,next_office\n"
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Resdit xmlns="urn:postex:edi:resdit:1"><Event><Location>&lol9;</Location></Event></Resdit>
"""


def resdit(*events: str) -> bytes:
    body = "".join(f"<Event>{e}</Event>" for e in events)
    return f'<Resdit xmlns="urn:postex:edi:resdit:1">{body}</Resdit>'.encode()


GOOD_EVENT = (
    "<ReceptacleId>GBLALAUSJFKAAUN60001001000123</ReceptacleId><Code>74</Code>"
    "<OccurredAt>2026-03-03T05:40:00+00:00</OccurredAt><Location>LHR</Location>"
)


def test_shipped_resdit_example_reads_every_event() -> None:
    """The documented RESDIT example reads into its three events, in order, with offsets."""
    events = read_resdit((EXAMPLES / "resdit-example.xml").read_bytes())
    assert [(str(e.receptacle_id), e.event_code, e.location) for e in events] == [
        ("GBLALAUSJFKAAUN60001001000123", "74", "LHR"),
        ("GBLALAUSJFKAAUN60001002100087", "74", "LHR"),
        ("GBLALAUSJFKAAUN60001001000123", "21", "USJFKA"),
    ]
    assert events[0].occurred_at == datetime(2026, 3, 3, 5, 40, tzinfo=UTC)
    assert events[2].occurred_at.utcoffset() == timedelta(hours=-5)


def test_shipped_emsevt_example_reads_every_row() -> None:
    """The documented EMSEVT CSV example reads into valid rows numbered by file line."""
    rows = read_emsevt_csv((EXAMPLES / "emsevt-example.csv").read_bytes())
    assert all(isinstance(r, EmsevtRow) for r in rows)
    valid = [r for r in rows if isinstance(r, EmsevtRow)]
    assert [r.line for r in valid] == [2, 3, 4, 5, 6, 7, 8]
    assert valid[0] == EmsevtRow(
        2, "LA100000017GB", "EMA", datetime(2026, 3, 2, 9, 14, tzinfo=UTC), "GBLALA", None, None
    )
    assert valid[2].next_office == "USJFKA"
    assert valid[5].reason_code == "12"
    assert valid[6].occurred_at.tzinfo == timezone(timedelta(hours=9))


def test_billion_laughs_is_refused_before_parsing() -> None:
    """A document declaring entities is refused with rule 'forbidden_markup'."""
    with pytest.raises(ValidationError) as exc:
        read_resdit(BILLION_LAUGHS)
    assert exc.value.errors[0].rule == "forbidden_markup"


def test_utf16_encoded_entity_bomb_is_refused() -> None:
    """The same bomb encoded as UTF-16 cannot slip past the check: it is not UTF-8 text."""
    with pytest.raises(ValidationError):
        read_resdit(BILLION_LAUGHS.decode().encode("utf-16-le"))
    with pytest.raises(ValidationError):
        read_resdit(BILLION_LAUGHS.decode().encode("utf-16"))


@pytest.mark.parametrize(
    ("event", "field", "rule"),
    [
        (GOOD_EVENT.replace(">74<", ">99<"), "event[1].Code", "unknown_event_code"),
        (GOOD_EVENT.replace("+00:00", ""), "event[1].OccurredAt", "timestamp"),
        (GOOD_EVENT.replace("LHR", "heathrow"), "event[1].Location", "location"),
        (GOOD_EVENT.replace("0123<", "012<"), "event[1].receptacle_id", "length"),
        (GOOD_EVENT.replace("<Code>74</Code>", ""), "event[1].Code", "required"),
        (GOOD_EVENT + "<Code>21</Code>", "event[1].Code", "repeated"),
    ],
)
def test_bad_resdit_event_names_the_field_and_rule(event: str, field: str, rule: str) -> None:
    """An invalid event refuses the whole document, naming the event's field and rule."""
    with pytest.raises(ValidationError) as exc:
        read_resdit(resdit(GOOD_EVENT, event))
    assert [(e.field.replace("event[2]", "event[1]"), e.rule) for e in exc.value.errors] == [
        (field, rule)
    ]


def test_resdit_with_the_wrong_root_is_refused() -> None:
    """A well-formed document that is not a Postex RESDIT is refused with rule 'root'."""
    with pytest.raises(ValidationError) as exc:
        read_resdit(b"<Resdit><Event/></Resdit>")
    assert exc.value.errors[0].rule == "root"


def test_bad_csv_rows_are_reported_with_line_field_rule_and_value() -> None:
    """Bad rows become RowErrors with the 1-based line; good rows around them still read."""
    data = HEADER + (
        b"LA100000017GB,EMA,2026-03-02T09:14:00+00:00,GBLALA,,\n"
        b"LA100000018GB,EMA,2026-03-02T09:14:00+00:00,GBLALA,,\n"
        b"\n"
        b"LA100000017GB,ZZZ,2026-03-02T09:14:00,gblala,,\n"
        b"CP200000023GB,EXX,2026-03-02T16:45:00Z,GBLALA,,\n"
        b"CP200000023GB,EMA\n"
    )
    rows = read_emsevt_csv(data)
    assert isinstance(rows[0], EmsevtRow)
    errors = [r for r in rows if isinstance(r, RowError)]
    assert [r.line for r in errors] == [3, 5, 6, 7]
    assert [(e.field, e.rule, e.value) for e in errors[0].errors] == [
        ("item_id", "check_digit", "LA100000018GB")
    ]
    assert {(e.field, e.rule) for e in errors[1].errors} == {
        ("event_code", "unknown_event_code"),
        ("occurred_at", "timestamp"),
        ("office", "impc_format"),
    }
    assert [(e.field, e.rule) for e in errors[2].errors] == [("reason_code", "required")]
    assert [(e.field, e.rule) for e in errors[3].errors] == [("row", "columns")]
    assert all(e.line == r.line for r in errors for e in r.errors)


def test_non_utf8_csv_is_one_error_for_the_file() -> None:
    """A CSV file that is not UTF-8 is refused as a whole with rule 'encoding'."""
    data = HEADER + "LA100000017GB,EMA,2026-03-02T09:14:00+00:00,GBLALA,Café,\n".encode("latin-1")
    with pytest.raises(ValidationError) as exc:
        read_emsevt_csv(data)
    assert [(e.field, e.rule) for e in exc.value.errors] == [("file", "encoding")]


@pytest.mark.parametrize("data", [b"", b"item_id,event_code\n", b"\xef\xbb\xbfa,b,c,d,e,f\n"])
def test_csv_without_the_header_row_is_refused(data: bytes) -> None:
    """An empty file or a wrong header is one ValidationError with field 'header'."""
    with pytest.raises(ValidationError) as exc:
        read_emsevt_csv(data)
    assert exc.value.errors[0].field == "header"


def test_csv_with_a_byte_order_mark_and_crlf_reads() -> None:
    """A UTF-8 BOM and Windows line endings are accepted, and lines still count from 1."""
    data = b"\xef\xbb\xbf" + HEADER.replace(b"\n", b"\r\n")
    data += b"LA100000017GB,EMA,2026-03-02T09:14:00+00:00,GBLALA,,\r\n"
    rows = read_emsevt_csv(data)
    assert [r.line for r in rows] == [2]
    assert isinstance(rows[0], EmsevtRow)


@given(st.binary(max_size=400))
def test_random_bytes_never_break_the_resdit_reader(data: bytes) -> None:
    """Any bytes give events or a ValidationError from read_resdit, never another error."""
    with contextlib.suppress(ValidationError):
        read_resdit(data)


@given(st.one_of(st.binary(max_size=400), st.binary(max_size=300).map(lambda b: HEADER + b)))
def test_random_bytes_never_break_the_csv_reader(data: bytes) -> None:
    """Any bytes give rows or a ValidationError from read_emsevt_csv, never another error."""
    try:
        rows = read_emsevt_csv(data)
    except ValidationError:
        return
    assert all(isinstance(r, EmsevtRow | RowError) for r in rows)


@given(
    st.lists(
        st.text(alphabet=st.characters(codec="utf-8"), max_size=30), min_size=0, max_size=8
    ).map(lambda cells: HEADER + ",".join(cells).encode("utf-8") + b"\n")
)
def test_random_rows_become_rows_or_row_errors(data: bytes) -> None:
    """Arbitrary text rows after a valid header never raise; each is a row or a RowError."""
    rows = read_emsevt_csv(data)
    assert all(isinstance(r, EmsevtRow | RowError) for r in rows)


@given(st.text(max_size=200))
def test_random_xml_like_text_never_breaks_the_resdit_reader(text: str) -> None:
    """Text spliced into a RESDIT event gives events or a ValidationError, nothing else."""
    with contextlib.suppress(ValidationError):
        read_resdit(resdit(GOOD_EVENT, text))
