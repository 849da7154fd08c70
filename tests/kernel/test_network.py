"""The demo export network: real IMPC codes, routes per country and mail class, validation."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from postex.kernel.errors import ValidationError
from postex.kernel.network import Network, impc_codes, load_network

SHARED_CSV = Path(__file__).parents[3] / "shared" / "data" / "impc-codes-2020.csv"
PACKAGED = Path(__file__).parents[2] / "src" / "postex" / "data"
ROYAL_MAIL = "J1CGBA"


@pytest.fixture(scope="module")
def network() -> Network:
    return load_network()


def packaged_document() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((PACKAGED / "network.json").read_text("utf-8"))
    return doc


def load_modified(tmp_path: Path, doc: dict[str, Any]) -> Network:
    path = tmp_path / "network.json"
    path.write_text(json.dumps(doc), "utf-8")
    return load_network(path)


def test_six_real_royal_mail_sites_with_heathrow_first(network: Network) -> None:
    """The network has six sites, all real Royal Mail IMPC codes, GBLALA first."""
    offices = impc_codes()
    assert len(network.sites) == 6
    assert network.sites[0].code == "GBLALA"
    assert len({s.code for s in network.sites}) == 6
    for site in network.sites:
        assert offices[site.code].operator_code == ROYAL_MAIL
        assert offices[site.code].operator_name == "Royal Mail"
        assert site.timezone == "Europe/London"
    assert network.site("GBLALA").is_office_of_exchange


def test_at_least_forty_countries_each_with_all_three_mail_classes(network: Network) -> None:
    """At least 40 destination countries are routed for letters, parcels and EMS."""
    assert len(network.countries) >= 40
    for country in network.countries:
        for mail_class in "UCE":
            assert network.route(country, mail_class).mail_class == mail_class


def test_every_destination_office_belongs_to_the_destination_country(network: Network) -> None:
    """Each route's destination IMPC is in the country or owned by its designated operator."""
    offices = impc_codes()
    for route in network.routes:
        office = offices[route.destination]
        country = route.destination_country
        assert route.destination[:2] == country or office.operator_code[3:5] == country, route


def test_every_route_leaves_from_one_of_our_offices_of_exchange(network: Network) -> None:
    """Routes start at an office-of-exchange site, mostly Heathrow (GBLALA)."""
    origins = [network.site(r.origin) for r in network.routes]
    assert all(site.is_office_of_exchange for site in origins)
    assert sum(site.code == "GBLALA" for site in origins) > len(origins) / 2


def test_routes_make_valid_despatch_ids(network: Network) -> None:
    """Every route yields a valid S8 despatch id whose subclass starts with its mail class."""
    for route in network.routes:
        despatch = route.despatch_id(6, 1)
        assert despatch.mail_class == route.mail_class
        assert len(str(despatch)) == 20
        assert len(route.carrier.code) == 2
        assert route.carrier.name


def test_packaged_impc_list_is_the_shared_2020_list() -> None:
    """The packaged IMPC list holds exactly the rows of the shared reference CSV."""
    if not SHARED_CSV.exists():
        pytest.skip(f"shared reference copy not present at {SHARED_CSV}")
    with SHARED_CSV.open(encoding="utf-8", newline="") as f:
        expected = {row["impc_code"]: row for row in csv.DictReader(f)}
    offices = impc_codes()
    assert offices.keys() == expected.keys()
    assert offices["GBLALA"].name == expected["GBLALA"]["impc_name"]
    assert offices["GBLALA"].operator_code == "J1CGBA"


def test_impc_codes_returns_a_copy_callers_cannot_corrupt() -> None:
    """Changing the dict impc_codes() returns does not change the next caller's dict."""
    first = impc_codes()
    first.clear()
    assert "GBLALA" in impc_codes()


def test_unknown_site_is_a_validation_error(network: Network) -> None:
    """Asking for a site we do not run is refused with field 'site', rule 'unknown_site'."""
    with pytest.raises(ValidationError) as exc:
        network.site("USJFKA")
    assert (exc.value.errors[0].field, exc.value.errors[0].rule) == ("site", "unknown_site")


@pytest.mark.parametrize(("country", "mail_class"), [("KP", "U"), ("US", "X"), ("us", "U")])
def test_unknown_route_is_a_validation_error(
    network: Network, country: str, mail_class: str
) -> None:
    """Asking for a country or class we do not serve is refused with rule 'no_route'."""
    with pytest.raises(ValidationError) as exc:
        network.route(country, mail_class)
    assert (exc.value.errors[0].field, exc.value.errors[0].rule) == ("destination", "no_route")


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (lambda d: d["sites"][0].update(code="GBXXXA"), "unknown_impc"),
        (lambda d: d["routes"][0].update(destination="ZZZZZZ"), "unknown_impc"),
        (lambda d: d["routes"][0].update(destination="FRCDGA"), "wrong_country"),
        (lambda d: d["routes"][0].update(origin="GBBELC"), "not_office_of_exchange"),
        (lambda d: d["routes"][0].update(carrier="ZZ"), "unknown_carrier"),
        (lambda d: d["routes"][0].update(subclass="CN"), "subclass"),
        (lambda d: d["routes"][0].update(category="Q"), "category"),
        (lambda d: d["routes"].append(dict(d["routes"][0])), "duplicate"),
        (lambda d: d["sites"][0].pop("name"), "required"),
        (lambda d: d.update(routes={}), "type"),
        (lambda d: d["gateways"][0].update(serial_slot=0), "serial_overlap"),  # Heathrow's
        (lambda d: d["gateways"][0].pop("serial_slot"), "required"),
        (lambda d: d["gateways"][0].update(code="GBLALA"), "duplicate"),
    ],
)
def test_a_broken_network_file_is_refused_with_the_rule(
    tmp_path: Path, change: Any, rule: str
) -> None:
    """Each kind of bad entry in a network file makes loading fail naming the broken rule."""
    doc = packaged_document()
    change(doc)
    with pytest.raises(ValidationError) as exc:
        load_modified(tmp_path, doc)
    assert rule in {e.rule for e in exc.value.errors}


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    """A network file that is not UTF-8 JSON is a ValidationError, not a decode error."""
    path = tmp_path / "network.json"
    path.write_bytes(b"\xff{not json")
    with pytest.raises(ValidationError) as exc:
        load_network(path)
    assert exc.value.errors[0].rule == "json"


def test_the_packaged_file_loads_from_an_explicit_path() -> None:
    """Loading the packaged file by path gives the same network as the default."""
    assert load_network(PACKAGED / "network.json") == load_network()
