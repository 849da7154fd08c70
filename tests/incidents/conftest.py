"""Incident nodes run on a clock the test moves by hand, started now."""

from __future__ import annotations

import pytest

from tests.factories import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
