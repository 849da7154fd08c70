"""Reading the audit trail: who did what, when, from where and why.

Entries are the ``audit.recorded.v1`` events of every site's log (see
:mod:`postex.accounts.app.audit`), newest first, filtered by actor, action, target, site
and time, paged with an opaque cursor. Each entry names its actor: the staff username,
the customer's or partner's name (``actor_name``), resolved here from the ids recorded.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from postex.accounts.app.auth import Principal, Role, require_roles
from postex.eventlog.chain import format_time
from postex.eventlog.context import Context
from postex.incidents.domain import network, parse_time
from postex.kernel.errors import ValidationError
from postex.kernel.validation import CONTROL

MAX_LIMIT = 500
CURSOR = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\|[A-Z0-9]{1,16}\|\d{1,15}")
Position = tuple[str, str, int]  # (recorded_at, site, seq)


@dataclass(frozen=True)
class AuditEntry:
    site: str
    seq: int
    recorded_at: str
    actor: dict[str, Any]
    action: str
    target: str
    reason: str
    details: dict[str, Any]
    actor_name: str | None = None  # username, customer or partner name; None if unknown

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "seq": self.seq,
            "at": self.recorded_at,
            "actor": self.actor,
            "actor_name": self.actor_name,
            "action": self.action,
            "target": self.target,
            "reason": self.reason,
            "details": self.details,
        }


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None  # actor id (user, customer or "cli"), or a staff username
    action: str | None = None  # exact, or a prefix ending in "*" such as "hold.*"
    target: str | None = None
    site: str | None = None  # the site whose log recorded the entry
    since: str | None = None  # inclusive, normalised recorded_at form
    until: str | None = None  # exclusive


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: str | None


class AuditRepository(Protocol):
    def search(self, flt: AuditFilter, before: Position | None, limit: int) -> list[AuditEntry]:
        """Entries matching ``flt``, newest first, strictly older than ``before``."""
        ...

    def names(self, actor_ids: Sequence[str]) -> dict[str, str]:
        """Actor id -> staff username, customer name or partner name, for those known."""
        ...

    def staff_id(self, username: str) -> str | None:
        """The id of the staff user with this username, if there is one."""
        ...


def _text(value: str | None, field: str, max_len: int = 200) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > max_len:
        raise ValidationError.single(field, "max_length", value, f"{field}: at most {max_len}")
    if CONTROL.search(value):
        raise ValidationError.single(field, "control_characters", value, f"{field}: no controls")
    return value


def make_filter(
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: str | None = None,
    until: str | None = None,
    site: str | None = None,
) -> AuditFilter:
    """Validate filters as a caller gives them (times in RFC 3339 with an offset; a site
    of the network file)."""
    if site and site not in {s.code for s in network().sites}:
        known = ", ".join(s.code for s in network().sites)
        raise ValidationError.single("site", "unknown_site", site, f"site must be one of: {known}")
    return AuditFilter(
        actor=_text(actor, "actor"),
        action=_text(action, "action"),
        target=_text(target, "target"),
        site=site or None,
        since=format_time(parse_time(since, "since")) if since else None,
        until=format_time(parse_time(until, "until")) if until else None,
    )


def encode_cursor(pos: Position) -> str:
    raw = f"{pos[0]}|{pos[1]}|{pos[2]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not CURSOR.fullmatch(raw):
            raise ValueError(raw)
        at, site, seq = raw.split("|")
        return at, site, int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError.single(
            "cursor", "format", cursor, "cursor must be a next_cursor from an earlier page"
        ) from None


def read_audit(
    ctx: Context, flt: AuditFilter, cursor: str | None = None, limit: int = 100
) -> AuditPage:
    """The trail for a trusted local caller (the CLI on the node)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError.single("limit", "range", limit, f"limit is 1 to {MAX_LIMIT}")
    before = decode_cursor(cursor) if cursor else None
    with ctx.store.read() as uow:
        repo = uow.repo(AuditRepository)
        if flt.actor:  # a staff username stands for its user's id
            flt = replace(flt, actor=repo.staff_id(flt.actor) or flt.actor)
        rows = repo.search(flt, before, limit + 1)
        names = repo.names(sorted({str(e.actor.get("id", "")) for e in rows}))
    page = [replace(e, actor_name=names.get(str(e.actor.get("id", "")))) for e in rows[:limit]]
    more = len(rows) > limit
    last = page[-1] if page else None
    nxt = encode_cursor((last.recorded_at, last.site, last.seq)) if more and last else None
    return AuditPage(page, nxt)


def search_audit(
    ctx: Context, p: Principal, flt: AuditFilter, cursor: str | None = None, limit: int = 100
) -> AuditPage:
    """The trail for auditors and ops."""
    require_roles(p, Role.AUDITOR, Role.OPS)
    return read_audit(ctx, flt, cursor, limit)


def actor_names(ctx: Context, p: Principal, actor_ids: Sequence[str]) -> dict[str, str]:
    """Usernames (or customer and partner names) for the actor ids a staff page shows,
    e.g. who placed and who confirmed a hold."""
    require_roles(p, Role.SUPERVISOR, Role.OPS, Role.AUDITOR, Role.ADMIN)
    with ctx.store.read() as uow:
        return uow.repo(AuditRepository).names(sorted({i for i in actor_ids if i}))
