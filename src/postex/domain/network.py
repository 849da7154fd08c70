"""The export network: our sites, and the route each destination and mail class takes.

Reference data lives in ``postex/data/network.json`` (sites, carriers, routes) and
``postex/data/impc-codes-2020.csv`` (the UPU IMPC code list of January 2020, a snapshot).
Reading those packaged files is the only I/O here, and it happens only when
:func:`load_network` or :func:`impc_codes` is called, never at import.

A route's destination office must belong to the destination country: either the IMPC code
starts with the country code, or its operator is that country's designated operator. In the
UPU list an operator code is ``J1C`` + ISO country + a letter (``J1CGBA`` is Royal Mail), so
the country of an operator is read from characters 4–5 of its code.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from postex.domain.dispatch_ids import MAIL_CLASSES, DespatchId, is_impc_code
from postex.domain.errors import FieldError, ValidationError

NETWORK_FORMAT = "postex.network.v1"
_PACKAGE = "postex.data"
_NETWORK_FILE = "network.json"
_IMPC_FILE = "impc-codes-2020.csv"


@dataclass(frozen=True)
class ImpcOffice:
    """One office of exchange in the UPU IMPC list, and the operator that owns it."""

    code: str
    operator_code: str
    operator_name: str
    name: str

    @property
    def operator_country(self) -> str | None:
        """The ISO country of the owning operator, when its code has the ``J1C`` form."""
        if self.operator_code.startswith("J1C") and self.operator_code[3:5].isalpha():
            return self.operator_code[3:5]
        return None

    def serves(self, country: str) -> bool:
        """Whether this office is in ``country`` or owned by that country's operator."""
        return self.code[:2] == country or self.operator_country == country


@dataclass(frozen=True)
class Site:
    """One of our export sites; only offices of exchange despatch mail abroad."""

    code: str
    name: str
    is_office_of_exchange: bool
    timezone: str


@dataclass(frozen=True)
class Carrier:
    """An airline (IATA two-character code) that carries our despatches."""

    code: str
    name: str


@dataclass(frozen=True)
class Route:
    """How mail of one class for one country leaves: from which office, to which, by whom."""

    destination_country: str
    mail_class: str
    origin: str
    destination: str
    category: str
    subclass: str
    carrier: Carrier

    def despatch_id(self, year_digit: int, serial: int) -> DespatchId:
        """The S8 id of despatch ``serial`` on this route in a year ending in ``year_digit``."""
        return DespatchId(
            self.origin, self.destination, self.category, self.subclass, year_digit, serial
        )


@dataclass(frozen=True)
class Network:
    """Our sites and routes, looked up by site code and by (country, mail class)."""

    sites: tuple[Site, ...]
    routes: tuple[Route, ...]
    _sites: dict[str, Site] = field(init=False, repr=False, compare=False)
    _routes: dict[tuple[str, str], Route] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_sites", {s.code: s for s in self.sites})
        object.__setattr__(
            self, "_routes", {(r.destination_country, r.mail_class): r for r in self.routes}
        )

    def site(self, code: str) -> Site:
        """The site with IMPC ``code``; ValidationError (``site``, ``unknown_site``) if none."""
        try:
            return self._sites[code]
        except KeyError:
            raise ValidationError.single(
                "site", "unknown_site", code, f"{code!r} is not one of our sites"
            ) from None

    def route(self, destination_country: str, mail_class: str) -> Route:
        """The route for a country and mail class (U, C, E).

        Raises ValidationError (``destination``, ``no_route``) when we do not serve it.
        """
        try:
            return self._routes[(destination_country, mail_class)]
        except KeyError:
            raise ValidationError.single(
                "destination",
                "no_route",
                f"{destination_country}/{mail_class}",
                f"no route for mail class {mail_class!r} to {destination_country!r}",
            ) from None

    @property
    def countries(self) -> frozenset[str]:
        """Every destination country with at least one route."""
        return frozenset(r.destination_country for r in self.routes)


def _read_packaged(name: str) -> bytes:
    return files(_PACKAGE).joinpath(name).read_bytes()


@functools.cache
def _impc_table() -> dict[str, ImpcOffice]:
    text = _read_packaged(_IMPC_FILE).decode("utf-8")
    return {
        row["impc_code"]: ImpcOffice(
            row["impc_code"], row["operator_code"], row["operator_name"], row["impc_name"]
        )
        for row in csv.DictReader(io.StringIO(text))
    }


def impc_codes() -> dict[str, ImpcOffice]:
    """Every IMPC code of the packaged 2020 list, mapped to its office (a fresh copy)."""
    return dict(_impc_table())


def load_network(path: Path | None = None) -> Network:
    """Read and validate the network file (default: the packaged ``network.json``).

    Raises ValidationError listing every problem: malformed JSON or shape, an IMPC code not
    in the 2020 list, a route whose origin is not one of our offices of exchange, whose
    destination office is not of the destination country, whose carrier is unknown, whose
    category or subclass is invalid for its mail class, or a duplicate site or route.
    OSError from reading an explicit ``path`` propagates unchanged.
    """
    raw = path.read_bytes() if path is not None else _read_packaged(_NETWORK_FILE)
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError.single("network", "json", str(exc), "not UTF-8 JSON") from None
    return _Loader(impc_codes()).network(doc)


class _Loader:
    """Builds a Network from the parsed JSON, collecting every error before raising."""

    def __init__(self, impc: dict[str, ImpcOffice]) -> None:
        self.offices = impc
        self.errors: list[FieldError] = []

    def fail(self, path: str, rule: str, value: object, message: str) -> None:
        self.errors.append(FieldError(path, rule, value, message))

    def items(self, doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = doc.get(key)
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(key, "type", None, f"{key} must be a list of objects")
            return []
        return value

    def text(self, obj: dict[str, Any], key: str, path: str) -> str:
        value = obj.get(key)
        if not isinstance(value, str) or not value:
            self.fail(f"{path}.{key}", "required", value, f"{key} must be a non-empty string")
            return ""
        return value

    def impc(self, obj: dict[str, Any], key: str, path: str) -> str:
        code = self.text(obj, key, path)
        if code and not (is_impc_code(code) and code in self.offices):
            self.fail(f"{path}.{key}", "unknown_impc", code, "not in the 2020 IMPC list")
        return code

    def network(self, doc: object) -> Network:
        if not isinstance(doc, dict) or doc.get("format") != NETWORK_FORMAT:
            raise ValidationError.single(
                "network", "format", None, f"expected an object with format {NETWORK_FORMAT}"
            )
        sites = [self.site(s, f"sites[{i}]") for i, s in enumerate(self.items(doc, "sites"))]
        carriers: dict[str, Carrier] = {}
        for i, c in enumerate(self.items(doc, "carriers")):
            path = f"carriers[{i}]"
            carrier = Carrier(self.text(c, "code", path), self.text(c, "name", path))
            carriers[carrier.code] = carrier
        by_code = {s.code: s for s in sites}
        routes = [
            self.route(r, f"routes[{i}]", by_code, carriers)
            for i, r in enumerate(self.items(doc, "routes"))
        ]
        self.duplicates([s.code for s in sites], "sites")
        self.duplicates([f"{r.destination_country}/{r.mail_class}" for r in routes], "routes")
        if self.errors:
            raise ValidationError(self.errors, f"network file: {len(self.errors)} problem(s)")
        return Network(tuple(sites), tuple(routes))

    def site(self, obj: dict[str, Any], path: str) -> Site:
        flag = obj.get("is_office_of_exchange")
        if not isinstance(flag, bool):
            self.fail(f"{path}.is_office_of_exchange", "type", flag, "must be true or false")
        return Site(
            self.impc(obj, "code", path),
            self.text(obj, "name", path),
            flag is True,
            self.text(obj, "timezone", path),
        )

    def route(
        self,
        obj: dict[str, Any],
        path: str,
        sites: dict[str, Site],
        carriers: dict[str, Carrier],
    ) -> Route:
        country = self.text(obj, "destination_country", path)
        mail_class = self.text(obj, "mail_class", path)
        origin = self.impc(obj, "origin", path)
        destination = self.impc(obj, "destination", path)
        carrier_code = self.text(obj, "carrier", path)
        route = Route(
            country,
            mail_class,
            origin,
            destination,
            self.text(obj, "category", path),
            self.text(obj, "subclass", path),
            carriers.get(carrier_code, Carrier(carrier_code, "")),
        )
        if carrier_code and carrier_code not in carriers:
            self.fail(f"{path}.carrier", "unknown_carrier", carrier_code, "not in carriers")
        if mail_class not in MAIL_CLASSES or not route.subclass.startswith(mail_class):
            self.fail(
                f"{path}.subclass",
                "subclass",
                route.subclass,
                "mail class is U, C or E and the subclass starts with it",
            )
        if origin and not (origin in sites and sites[origin].is_office_of_exchange):
            self.fail(
                f"{path}.origin", "not_office_of_exchange", origin, "not our office of exchange"
            )
        office = self.offices.get(destination)
        if office is not None and not office.serves(country):
            self.fail(
                f"{path}.destination", "wrong_country", destination, f"not an office of {country}"
            )
        try:
            route.despatch_id(0, 1)
        except ValidationError as exc:
            self.errors.extend(e.at(path) for e in exc.errors)
        return route

    def duplicates(self, keys: list[str], path: str) -> None:
        seen: set[str] = set()
        for key in keys:
            if key in seen:
                self.fail(path, "duplicate", key, f"{key} appears more than once")
            seen.add(key)
