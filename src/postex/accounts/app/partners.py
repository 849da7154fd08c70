"""Partners: destination posts and airlines that send tracking events back.

A partner speaks for one or more IMPC offices; its API key carries them
(:attr:`Principal.offices`). It may send events only for items whose route ends at an
office of the same operator as one of its offices.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import Role, issue_token
from postex.accounts.events import PartnerRegistered
from postex.eventlog.context import Context, new_id
from postex.kernel import text as text_policy
from postex.kernel.dispatch_ids import is_impc_code
from postex.kernel.errors import FieldError, ValidationError
from postex.kernel.network import ImpcOffice, Network, impc_codes, load_network
from postex.kernel.reference import services


@dataclass(frozen=True)
class PartnerRecord:
    id: str
    name: str
    offices: tuple[str, ...]
    created_at: str


class PartnerRepository(Protocol):
    def get(self, partner_id: str) -> PartnerRecord | None: ...

    def list(self) -> list[PartnerRecord]: ...


@dataclass(frozen=True)
class CreatedPartner:
    record: PartnerRecord
    api_key: str  # shown once; only its hash is stored
    key_id: str


def check_offices(offices: Iterable[object]) -> tuple[str, ...]:
    """Validate IMPC codes against the packaged 2020 list; raise naming each bad one."""
    known = _offices()
    errors: list[FieldError] = []
    clean: list[str] = []
    for i, code in enumerate(offices):
        if not is_impc_code(code) or code not in known:
            errors.append(
                FieldError(f"impc[{i}]", "unknown_impc", code, "not an IMPC code of the 2020 list")
            )
        elif isinstance(code, str) and code not in clean:
            clean.append(code)
    if not clean and not errors:
        errors.append(FieldError("impc", "required", None, "give at least one IMPC office"))
    if errors:
        raise ValidationError(errors)
    return tuple(clean)


def create_partner(
    ctx: Context, name: str, offices: Iterable[object], actor: dict[str, str] | None = None
) -> CreatedPartner:
    """Register a partner with its offices and issue its first API key (shown once)."""
    clean = text_policy.clean(name, "name") if isinstance(name, str) else ""
    if not 1 <= len(clean) <= 200:
        raise ValidationError.single("name", "length", name, "a name of 1 to 200 characters")
    codes = check_offices(offices)
    partner_id = new_id("ptn")
    who = actor or {"kind": "cli", "id": "cli", "role": "admin"}
    token = issue_token("partner", partner_id, Role.PARTNER, offices=codes, name=clean)
    with ctx.store.write(ctx.site) as uow:
        uow.append(
            [
                PartnerRegistered(partner_id=partner_id, name=clean, offices=list(codes)),
                token.event,
                audit_event(
                    who, "partner.registered", partner_id, details={"offices": list(codes)}
                ),
            ]
        )
        record = uow.repo(PartnerRepository).get(partner_id)
    assert record is not None
    return CreatedPartner(record, token.token, token.key_id)


def list_partners(ctx: Context) -> list[PartnerRecord]:
    with ctx.store.read() as uow:
        return uow.repo(PartnerRepository).list()


@cache
def _offices() -> dict[str, ImpcOffice]:
    return impc_codes()


@cache
def _network() -> Network:
    return load_network()


def office_name(code: str | None) -> str | None:
    """The name of an IMPC office, for people (None for codes outside the 2020 list)."""
    office = _offices().get(code) if code else None
    return office.name.strip() if office else None


def operators_of(offices: Iterable[str]) -> frozenset[str]:
    """The UPU operator codes that own ``offices`` (unknown codes own nothing)."""
    known = _offices()
    return frozenset(known[o].operator_code for o in offices if o in known)


@cache
def routed_operator(destination: str, service: str) -> str | None:
    """The operator of the office of exchange our route for this item ends at, if any."""
    svc = services().by_code.get(service)
    if svc is None:
        return None
    try:
        route = _network().route(destination, svc.mail_class)
    except ValidationError:
        return None
    office = _offices().get(route.destination)
    return office.operator_code if office else None
