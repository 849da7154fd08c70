"""The export network: our sites, and the route each destination and mail class takes.

Reference data lives in ``postex/data/network.json`` (sites, carriers, routes) and
``postex/data/impc-codes-2020.csv`` (the UPU IMPC code list of January 2020, a snapshot).
Reading those packaged files is the only I/O here, and it happens only when
:func:`load_network` or :func:`impc_codes` is called, never at import.

A route's destination office must belong to the destination country: either the IMPC code
starts with the country code, or its operator is that country's designated operator. In the
UPU list an operator code is ``J1C`` + ISO country + a letter (``J1CGBA`` is Royal Mail), so
the country of an operator is read from characters 4–5 of its code.

S10 serial sub-blocks: when several sites of one network issue item ids, each must draw
from its own part of every service's serial block, or two sites would issue the same id.
The network file splits each block into ``serial_slots`` equal parts and gives every site
a distinct ``serial_slot`` (see :func:`split_block`), and so every *gateway* too: a node
that is no site but takes customers' pre-advice (the hub, the usual gateway, or another
one), each with a code of its own (``HUB``). A single node ignores the split and uses the
whole block.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import json
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from postex.kernel.dispatch_ids import MAIL_CLASSES, DespatchId, is_impc_code
from postex.kernel.errors import ConfigurationError, FieldError, ValidationError

NETWORK_FORMAT = "postex.network.v1"
_PACKAGE = "postex.data"
_NETWORK_FILE = "network.json"
_IMPC_FILE = "impc-codes-2020.csv"
MAX_SERIAL_SLOTS = 1000  # a block of 90 million serials leaves 90,000 ids per slot


def split_block(first: int, last: int, slot: int, slots: int) -> tuple[int, int]:
    """Sub-block ``slot`` (0-based) of ``slots`` equal parts of the serials ``first…last``.

    Parts are consecutive and disjoint; the last one also takes the remainder, so together
    they cover the block exactly. Raises ConfigurationError if a part would be empty.
    """
    if not 0 <= slot < slots:
        raise ConfigurationError(f"serial slot {slot} is not in 0…{slots - 1}")
    size = (last - first + 1) // slots
    if size < 1:
        raise ConfigurationError(
            f"serial block {first}…{last} is too small for {slots} sites' sub-blocks"
        )
    low = first + slot * size
    high = last if slot == slots - 1 else low + size - 1
    return low, high


@dataclass(frozen=True)
class SerialSlot:
    """A site's share of every service's S10 serial block: part ``slot`` of ``slots``."""

    slot: int
    slots: int

    def block(self, first: int, last: int) -> tuple[int, int]:
        return split_block(first, last, self.slot, self.slots)


def overlapping(blocks: dict[str, tuple[int, int]]) -> tuple[str, str] | None:
    """The first two owners whose (inclusive) ranges overlap, or None if all are disjoint."""
    ordered = sorted(blocks.items(), key=lambda kv: kv[1])
    for (a, (_, a_high)), (b, (b_low, _)) in itertools.pairwise(ordered):
        if b_low <= a_high:
            return a, b
    return None


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
    serial_slot: int | None = None  # this site's part of each S10 serial block


@dataclass(frozen=True)
class Gateway:
    """A node that takes pre-advice but is none of our sites (the hub, or another gateway):
    it issues S10 ids from a part of its own, like every site."""

    code: str
    name: str
    serial_slot: int


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
    serial_slots: int | None = None  # how many parts each S10 serial block is split into
    gateways: tuple[Gateway, ...] = ()  # the hub and other gateways, each with its slot
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

    def serial_slot(self, code: str) -> SerialSlot:
        """The share of every serial block that site ``code`` issues ids from.

        Raises ConfigurationError when the site is not ours or the network file gives it no
        slot: a site of a network must never fall back to the whole block.
        """
        gateways = {g.code: g for g in self.gateways}
        if code not in self._sites and code not in gateways:
            raise ConfigurationError(
                f"{code!r} is not in the network file (neither a site nor a gateway): every "
                "node of a network needs its own part of each S10 serial block (add it to "
                '"sites" or "gateways" with a serial_slot no other node has)'
            )
        node = self._sites.get(code) or gateways[code]
        slot = node.serial_slot
        if slot is None or self.serial_slots is None:
            raise ConfigurationError(
                f"site {code} has no serial_slot in the network file: a node of a network "
                "needs its own part of each S10 serial block"
            )
        return SerialSlot(slot, self.serial_slots)

    def sub_blocks(self, first: int, last: int) -> dict[str, tuple[int, int]]:
        """Every slotted site's and gateway's part of the serial block ``first…last``."""
        if self.serial_slots is None:
            return {}
        slots = self.serial_slots
        nodes: list[Site | Gateway] = [*self.sites, *self.gateways]
        return {
            s.code: split_block(first, last, slot, slots)
            for s in nodes
            if (slot := s.serial_slot) is not None
        }

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
        self.duplicates([f"{r.destination_country}/{r.mail_class}" for r in routes], "routes")
        listed = self.items(doc, "gateways") if "gateways" in doc else []
        gateways = [self.gateway(g, f"gateways[{i}]") for i, g in enumerate(listed)]
        self.duplicates([s.code for s in sites] + [g.code for g in gateways], "sites")
        slots = self.serial_slots(doc, sites, gateways)
        if self.errors:
            raise ValidationError(self.errors, f"network file: {len(self.errors)} problem(s)")
        return Network(tuple(sites), tuple(routes), slots, tuple(gateways))

    def gateway(self, obj: dict[str, Any], path: str) -> Gateway:
        code = self.text(obj, "code", path)
        if not (2 <= len(code) <= 12 and code.isascii() and code.isalnum() and code.isupper()):
            self.fail(f"{path}.code", "format", code, "2-12 capital letters and digits")
        slot = obj.get("serial_slot")
        if not isinstance(slot, int) or not _whole(slot):
            self.fail(f"{path}.serial_slot", "required", slot,
                      "a gateway issues ids: it needs a serial_slot of its own")  # fmt: skip
            slot = -1
        return Gateway(code, self.text(obj, "name", path), slot)

    def serial_slots(
        self, doc: dict[str, Any], sites: list[Site], gateways: list[Gateway]
    ) -> int | None:
        """``serial_slots`` and every site's and gateway's ``serial_slot``: in range, no
        two nodes alike."""
        slots = doc.get("serial_slots")
        slotted = [(f"sites[{i}]", s.code, s.serial_slot) for i, s in enumerate(sites)
                   if s.serial_slot is not None]  # fmt: skip
        slotted += [(f"gateways[{i}]", g.code, g.serial_slot) for i, g in enumerate(gateways)
                    if g.serial_slot >= 0]  # fmt: skip
        if slots is None:
            for at, _, slot in slotted:
                self.fail(f"{at}.serial_slot", "requires", slot,
                          "serial_slot needs serial_slots at the top of the file")  # fmt: skip
            return None
        if not _whole(slots) or not 1 <= slots <= MAX_SERIAL_SLOTS:
            self.fail("serial_slots", "range", slots, f"a whole number 1…{MAX_SERIAL_SLOTS}")
            return None
        owner: dict[int, str] = {}
        for at, code, slot in slotted:
            if not 0 <= slot < slots:
                self.fail(f"{at}.serial_slot", "range", slot, f"0…{slots - 1}")
            elif slot in owner:
                self.fail(f"{at}.serial_slot", "serial_overlap", slot,
                          f"{code} would share serials with {owner[slot]}")  # fmt: skip
            else:
                owner[slot] = code
        return int(slots)

    def site(self, obj: dict[str, Any], path: str) -> Site:
        flag = obj.get("is_office_of_exchange")
        if not isinstance(flag, bool):
            self.fail(f"{path}.is_office_of_exchange", "type", flag, "must be true or false")
        slot = obj.get("serial_slot")
        if slot is not None and not _whole(slot):
            self.fail(f"{path}.serial_slot", "type", slot, "must be a whole number")
            slot = None
        return Site(
            self.impc(obj, "code", path),
            self.text(obj, "name", path),
            flag is True,
            self.text(obj, "timezone", path),
            slot,
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


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
