"""The node's role is a property of its database, not of the process that opens it.

A database is initialised (or first started, for one that predates the record) as a
``single`` node, a ``site`` of a network or the ``hub``, and keeps that role: the hub's
tables (arrival journal, witnesses) and a site's (its replication cursor, its part of every
serial block) mean nothing under another role, and a rebuild must replay in the order the
role dictates. Commands that run the node (serve, worker, rebuild, replicate, hub consume)
claim the configured role against the recorded one and refuse a contradiction.

One change is allowed: a single node may become a site of a network, once, if every S10 id
it issued lies inside the new site's part of its service's serial block (otherwise the next
site of the network would issue the same ids).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from postex.kernel.errors import ConfigurationError
from postex.kernel.network import SerialSlot
from postex.kernel.reference import Service

ROLE_SETTING = "POSTEX_ROLE (or role in postex.toml)"


@dataclass(frozen=True)
class RecordedRole:
    role: str
    site: str
    recorded_at: str
    previous_role: str | None = None  # a single node that became a site: "single"


class NodeRoles(Protocol):
    def recorded(self) -> RecordedRole | None:
        """The role recorded in the database, if any."""
        ...

    def evidence(self) -> str | None:
        """For a database without a record: the role its own tables show, if they show one
        (the hub's arrival journal or witnesses: hub; a replication cursor: site)."""
        ...

    def record(self, role: RecordedRole) -> None: ...


class IssuedSerials(Protocol):
    def outside(self, prefix: str, first: int, last: int) -> tuple[int, int, int] | None:
        """(count, lowest, highest) serials of ``prefix`` ids held outside ``first…last``."""
        ...


@dataclass(frozen=True)
class SlotOverlap:
    services: tuple[str, ...]  # service codes sharing the prefix
    prefix: str
    part: tuple[int, int]  # the site's part of the block
    count: int
    lowest: int
    highest: int

    def describe(self) -> str:
        names = "/".join(self.services)
        return (
            f"service {names} ({self.prefix}): {self.count} id(s) issued with serials "
            f"{self.lowest:08d}…{self.highest:08d}, outside the slot's part "
            f"{self.part[0]:08d}…{self.part[1]:08d}"
        )


def slot_overlaps(
    issued: IssuedSerials, services: Iterable[Service], slot: SerialSlot
) -> list[SlotOverlap]:
    """Every service prefix with ids held outside ``slot``'s part of its serial block."""
    by_prefix: dict[tuple[str, int, int], list[str]] = {}
    for s in services:
        by_prefix.setdefault((s.s10_prefix, s.serial_first, s.serial_last), []).append(s.code)
    found = []
    for (prefix, first, last), codes in sorted(by_prefix.items()):
        part = slot.block(first, last)
        hit = issued.outside(prefix, *part)
        if hit is not None:
            found.append(SlotOverlap(tuple(sorted(codes)), prefix, part, *hit))
    return found


def slot_error(site: str, slot: SerialSlot, overlaps: list[SlotOverlap]) -> ConfigurationError:
    offending = "; ".join(o.describe() for o in overlaps)
    return ConfigurationError(
        f"site {site} cannot run as a site of the network with serial slot {slot.slot} of "
        f"{slot.slots}: this database holds ids outside that slot, which overlap other "
        f"sites' parts ({offending}). Give {site} a serial_slot in the network file whose "
        "part holds these ids, or keep this database a single node"
    )


def _refusal(recorded: RecordedRole, role: str) -> ConfigurationError:
    hint = {
        ("single", "hub"): "a hub needs a database of its own",
        ("site", "hub"): "a hub needs a database of its own",
        ("hub", "single"): "a single node or a site needs a database of its own",
        ("hub", "site"): "a single node or a site needs a database of its own",
        ("site", "single"): "a site cannot go back to being a single node: its ids come "
        "from its slot and the hub holds its log",
    }.get((recorded.role, role), "")
    return ConfigurationError(
        f"this database belongs to a {recorded.role} node (site {recorded.site}, recorded "
        f"{recorded.recorded_at}) but this command runs with role {role}; set "
        f"{ROLE_SETTING} to {recorded.role!r} (or leave it unset) to run it"
        + (f", or point it at another database: {hint}" if hint else "")
    )


HUB_SITE = "HUB"  # the hub's own log and signing name when none is given


def _site_refusal(recorded: RecordedRole, site: str) -> ConfigurationError:
    return ConfigurationError(
        f"this database belongs to site {recorded.site} (recorded {recorded.recorded_at}) "
        f"but this command runs as site {site}; set POSTEX_SITE (or --site) to "
        f"{recorded.site} or leave it unset, or use the other site's database"
    )


def identify(
    recorded: RecordedRole | None,
    role: str,
    site: str,
    *,
    role_given: bool,
    site_given: bool,
    may_record: bool,
) -> tuple[str, str]:
    """The node's (role, site) for a command: the database's, never a default.

    With a record, a given role or site must agree with it (except a single node becoming
    a site, which :func:`claim_role` checks when ``may_record``, and a single node's site:
    it plays every site, so a given one picks whose log it writes); what was not given is
    read from the record. Without one, a command that records the role (init, demo,
    serve, ...) uses what it was given or the defaults (a hub: site ``HUB``); any other
    command must be told, since it would otherwise write into a default site's log.
    Raises ConfigurationError (one line, nothing written).
    """
    if recorded is not None:
        becoming_site = may_record and recorded.role == "single" and role == "site"
        if role_given and role != recorded.role and not becoming_site:
            raise _refusal(recorded, role)
        if becoming_site and role_given:
            return role, site if site_given else recorded.site
        if recorded.role == "single" and site_given:
            return recorded.role, site  # a single node plays every site: it picks the log
        if site_given and site != recorded.site:
            raise _site_refusal(recorded, site)
        return recorded.role, recorded.site
    if role == "hub" and not site_given:
        site = HUB_SITE
    if role == "site" and not site_given:
        raise ConfigurationError(
            "this database has no recorded node role and a site of the network needs its "
            "site code: give --site CODE (or POSTEX_SITE), e.g. `postex init --role site "
            "--site GBLGWA`"
        )
    if may_record or role_given or site_given:
        return role, site
    raise ConfigurationError(
        "this database has no recorded node role, so this command would not know whose "
        "log to write: run `postex init --role single|site|hub --site CODE` on it first "
        "(or set POSTEX_ROLE and POSTEX_SITE)"
    )


def claim_role(
    roles: NodeRoles, role: str, site: str, at: str, slot_check: SlotCheck | None = None
) -> RecordedRole:
    """Record ``role`` for a database that has none, or check it against the record.

    Raises ConfigurationError naming both roles (and what to do) when they contradict, or
    when a site's database holds ids outside its serial slot (``slot_check``).
    """
    recorded = roles.recorded()
    if recorded is None:
        shown = roles.evidence()
        if shown is not None and shown != role:
            raise _refusal(RecordedRole(shown, "?", "from its own tables"), role)
    elif recorded.role == role:
        if role != "single" and recorded.site != site:
            raise _site_refusal(recorded, site)
        if slot_check is not None:
            slot_check()
        return recorded
    elif not (recorded.role == "single" and role == "site"):
        raise _refusal(recorded, role)
    if slot_check is not None:
        slot_check()  # before anything is recorded: a refused site stays what it was
    claimed = RecordedRole(role, site, at, recorded.role if recorded else None)
    roles.record(claimed)
    return claimed


class SlotCheck(Protocol):
    def __call__(self) -> None: ...
