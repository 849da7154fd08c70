"""Hypothesis strategies for site operations: series from the routing table, bag facts."""

from __future__ import annotations

from hypothesis import strategies as st

from postex.kernel.network import load_network
from postex.sites.domain.receptacles import Series

ROUTES = load_network().routes


def series() -> st.SearchStrategy[Series]:
    """A series one of our offices of exchange really despatches."""
    return st.sampled_from(ROUTES).map(
        lambda r: Series(r.origin, r.destination, r.category, r.subclass)
    )


gross_weights = st.integers(min_value=1, max_value=1_500_000)
year_digits = st.integers(min_value=0, max_value=9)
despatch_serials = st.integers(min_value=1, max_value=9999)
