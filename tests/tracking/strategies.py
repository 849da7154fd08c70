"""Hypothesis strategies for partner input: JSON-ish values and event-like objects."""

from __future__ import annotations

from hypothesis import strategies as st

FIELDS = ["item_id", "event_code", "occurred_at", "office", "reason_code", "next_office"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)

events = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=12),
    json_values | st.sampled_from(["LA100000003GB", "EMD", "2026-11-03T15:22:00-05:00", "USJFKA"]),
    max_size=7,
)

payloads = st.one_of(
    json_values,
    st.fixed_dictionaries({"events": st.lists(events | json_values, max_size=6)}),
)
