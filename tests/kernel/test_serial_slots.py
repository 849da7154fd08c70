"""S10 serial sub-blocks: each site of a network issues ids from its own part of a block."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postex.kernel.errors import ConfigurationError, ValidationError
from postex.kernel.ids import SERIAL_MAX
from postex.kernel.network import (
    MAX_SERIAL_SLOTS,
    load_network,
    overlapping,
    split_block,
)
from postex.kernel.reference import services

PACKAGED = Path(__file__).parents[2] / "src" / "postex" / "data" / "network.json"


@st.composite
def blocks_and_slots(draw: st.DrawFn) -> tuple[int, int, int]:
    first = draw(st.integers(0, SERIAL_MAX))
    last = draw(st.integers(first, SERIAL_MAX))
    slots = draw(st.integers(1, min(MAX_SERIAL_SLOTS, last - first + 1)))
    return first, last, slots


@given(blocks_and_slots())
def test_the_parts_of_a_block_are_disjoint_consecutive_and_cover_it(
    case: tuple[int, int, int],
) -> None:
    """For any block and number of slots: parts are non-empty, in order, touching, and
    together exactly the block, so no serial is issued by two sites and none is lost."""
    first, last, slots = case
    parts = [split_block(first, last, k, slots) for k in range(slots)]
    assert parts[0][0] == first
    assert parts[-1][1] == last
    for low, high in parts:
        assert first <= low <= high <= last
    for (_, high), (next_low, _) in itertools.pairwise(parts):
        assert next_low == high + 1
    assert overlapping({str(k): p for k, p in enumerate(parts)}) is None
    assert sum(high - low + 1 for low, high in parts) == last - first + 1


@given(blocks_and_slots(), st.data())
def test_a_serial_belongs_to_exactly_one_part(case: tuple[int, int, int], data: Any) -> None:
    first, last, slots = case
    serial = data.draw(st.integers(first, last))
    parts = [split_block(first, last, k, slots) for k in range(slots)]
    owners = [k for k, (low, high) in enumerate(parts) if low <= serial <= high]
    assert len(owners) == 1


def test_overlapping_names_the_two_owners() -> None:
    assert overlapping({"A": (10, 19), "B": (20, 29)}) is None
    assert overlapping({"A": (10, 20), "B": (20, 29)}) == ("A", "B")
    assert overlapping({"B": (15, 16), "A": (10, 19), "C": (30, 31)}) == ("A", "B")


def test_a_slot_outside_the_split_or_an_empty_part_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        split_block(10, 19, 2, 2)
    with pytest.raises(ConfigurationError):
        split_block(10, 12, 0, 4)


def test_every_packaged_site_has_its_own_part_of_every_service_block() -> None:
    network = load_network()
    assert network.serial_slots is not None
    for svc in services().by_code.values():
        parts = network.sub_blocks(svc.serial_first, svc.serial_last)
        nodes = {s.code for s in network.sites} | {g.code for g in network.gateways}
        assert set(parts) == nodes and "HUB" in nodes  # the hub has a part of its own
        assert overlapping(parts) is None
    gatwick = network.serial_slot("GBLGWA").block(10_000_000, 99_999_999)
    assert gatwick == (21_250_000, 32_499_999)
    assert network.serial_slot("HUB").block(10_000_000, 99_999_999) == (88_750_000, 99_999_999)


def test_a_site_without_a_slot_cannot_issue_ids_in_a_network(tmp_path: Path) -> None:
    doc = _doc()
    del doc["sites"][1]["serial_slot"]
    network = _load(tmp_path, doc)
    with pytest.raises(ConfigurationError, match="serial_slot"):
        network.serial_slot("GBLGWA")
    with pytest.raises(ConfigurationError, match="not in the network"):
        network.serial_slot("GBNOPE")


@pytest.mark.parametrize(
    ("change", "path", "rule"),
    [
        (lambda d: d["sites"][1].update(serial_slot=0), "sites[1].serial_slot", "serial_overlap"),
        (lambda d: d["sites"][2].update(serial_slot=8), "sites[2].serial_slot", "range"),
        (lambda d: d["sites"][2].update(serial_slot=-1), "sites[2].serial_slot", "range"),
        (lambda d: d["sites"][2].update(serial_slot="2"), "sites[2].serial_slot", "type"),
        (lambda d: d.update(serial_slots=0), "serial_slots", "range"),
        (lambda d: d.update(serial_slots=True), "serial_slots", "range"),
        (lambda d: d.pop("serial_slots"), "sites[0].serial_slot", "requires"),
        (lambda d: d.pop("serial_slots"), "gateways[0].serial_slot", "requires"),
        (
            lambda d: d["gateways"][0].update(serial_slot=3),
            "gateways[0].serial_slot",
            "serial_overlap",
        ),  # Coventry's
    ],
)
def test_overlapping_or_malformed_slots_are_refused(
    tmp_path: Path, change: Any, path: str, rule: str
) -> None:
    """Two sites on one slot would issue the same ids: the network file is refused."""
    doc = _doc()
    change(doc)
    with pytest.raises(ValidationError) as exc:
        _load(tmp_path, doc)
    assert (path, rule) in {(e.field, e.rule) for e in exc.value.errors}


def test_a_network_without_slots_still_loads(tmp_path: Path) -> None:
    """A single node needs no split: a file without slots loads and has none."""
    doc = _doc()
    doc.pop("serial_slots")
    doc.pop("gateways")  # a gateway always has a slot
    for site in doc["sites"]:
        site.pop("serial_slot")
    network = _load(tmp_path, doc)
    assert network.serial_slots is None
    assert network.sub_blocks(10_000_000, 99_999_999) == {}


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(PACKAGED.read_text("utf-8"))
    return doc


def _load(tmp_path: Path, doc: dict[str, Any]) -> Any:
    path = tmp_path / "network.json"
    path.write_text(json.dumps(doc), "utf-8")
    return load_network(path)
