"""Hypothesis strategies shared by the core's tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

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
