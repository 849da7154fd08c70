"""Hypothesis strategies for incident tests: scopes and the subjects holds look at."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from postex.incidents.domain import Scope

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
