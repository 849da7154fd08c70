"""Hypothesis strategies for every test, in one place (grouped by what they generate)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from postex.incidents.domain import Scope
from postex.kernel.network import load_network
from postex.sites.domain.receptacles import Series

# --- the log and ids ------------------------------------------------------------------
MAX_SAFE = 2**53 - 1

ascii_keys = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=0, max_size=12
)
# Any Unicode text that UTF-8 can carry (no lone surrogates).
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
scalars = st.none() | st.booleans() | st.integers(-MAX_SAFE, MAX_SAFE) | texts

json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(ascii_keys, children, max_size=6)
    ),
    max_leaves=25,
)
event_bodies = st.dictionaries(ascii_keys, json_values, max_size=8)

s10_serials = st.integers(0, 99_999_999)
s10_prefixes = st.sampled_from(
    [a + b for a in "ABCDEFGHILMNOPQRSTUVWXYZ" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
)
countries = st.sampled_from(["GB", "US", "DE", "FR", "SE", "IN", "HU", "LV", "JP", "CN"])


# --- site operations: series from the routing table, bag facts ------------------------
ROUTES = load_network().routes


def series() -> st.SearchStrategy[Series]:
    """A series one of our offices of exchange really despatches."""
    return st.sampled_from(ROUTES).map(
        lambda r: Series(r.origin, r.destination, r.category, r.subclass)
    )


gross_weights = st.integers(min_value=1, max_value=1_500_000)
year_digits = st.integers(min_value=0, max_value=9)
despatch_serials = st.integers(min_value=1, max_value=9999)


# --- partner input: JSON-ish values and event-like objects ----------------------------
PARTNER_FIELDS = ["item_id", "event_code", "occurred_at", "office", "reason_code", "next_office"]

partner_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)

partner_rows = st.dictionaries(
    st.sampled_from(PARTNER_FIELDS) | st.text(max_size=12),
    partner_json_values
    | st.sampled_from(["LA100000003GB", "EMD", "2026-11-03T15:22:00-05:00", "USJFKA"]),
    max_size=7,
)

partner_payloads = st.one_of(
    partner_json_values,
    st.fixed_dictionaries({"events": st.lists(partner_rows | partner_json_values, max_size=6)}),
)


# --- incidents: scopes and the subjects holds look at ---------------------------------
SITES = ("GBLALA", "GBLGWA", "GBBHXA")
COUNTRIES = ("US", "FR", "DE", "JP")
SERVICES = ("standard_letter", "tracked", "parcel")
FORMS = (None, "CN22", "CN23")


def _subset(values: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.sets(st.sampled_from(values), max_size=2).map(lambda s: tuple(sorted(s)))


scopes: st.SearchStrategy[Scope] = st.builds(
    Scope,
    sites=_subset(SITES),
    destinations=_subset(COUNTRIES),
    services=_subset(SERVICES),
    goods_only=st.booleans(),
)

subjects: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {
        "site": st.sampled_from(SITES),
        "destination": st.sampled_from(COUNTRIES),
        "service": st.sampled_from(SERVICES),
        "has_goods": st.booleans(),
        "customs_form": st.sampled_from(FORMS),
    }
)


# --- free text: what customers type, and what attackers paste --------------------------
# Characters the text policy (postex.kernel.text) refuses, characters it must let through
# although they are unusual (combining marks, direction overrides, zero-width, private use,
# unassigned, astral), and spellings that NFC changes.
AWKWARD_CHARACTERS = [
    "\uffff", "\ufffe", "\U0001fffe", "\U0010ffff", "\ufdd0", "\ufdef",  # noncharacters
    "\ud800", "\udfff",  # lone surrogates
    "\x00", "\x08", "\x1f", "\x7f", "\x85", "\x9f", "\t", "\n", "\r",  # C0, DEL, C1
    "\u2028", "\u202e", "\u200b", "\u200d", "\ufeff", "\ue000", "\U000f0000", "\u0378",
    "e\u0301", "\u212b", "\U0001f600", "\uff1d", "ß", "İ", "&", "<", "]]>",
]  # fmt: skip
hostile_texts = st.lists(
    st.sampled_from(AWKWARD_CHARACTERS) | st.text(st.characters(), min_size=1, max_size=6),
    min_size=1,
    max_size=6,
).map("".join)
WRITABLE_AWKWARD = [c for c in AWKWARD_CHARACTERS if len(c) > 1 or c in "\u2028\u202e\u200b"
                    "\u200d\ufeff\ue000\U000f0000\u0378\U0001f600\uff1dßİ&<"]  # fmt: skip
# Text the policy must accept: anything but controls, surrogates and noncharacters.
writable_texts = st.lists(
    st.sampled_from(WRITABLE_AWKWARD)
    | st.text(
        st.characters(blacklist_categories=("Cs", "Cc")).filter(
            lambda c: not (0xFDD0 <= ord(c) <= 0xFDEF or ord(c) & 0xFFFE == 0xFFFE)
        ),
        min_size=1,
        max_size=6,
    ),
    min_size=1,
    max_size=5,
).map("".join)
