"""Staff administration: list users, disable and re-enable them, see and end their sessions.

Admins only. Disabling is an event (``staff.disabled.v1``, with who and why) and takes
effect at once: the user's console sessions are deleted in the same call, a session whose
user is disabled opens nothing even if it was created a moment later (``SessionStore.get``),
and the user's API tokens are refused while the account is disabled (``authenticate``).
Re-enabling gives the tokens back; sessions stay ended. Every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import Principal, Role, require_roles
from postex.accounts.app.sessions import (
    Console,
    StaffStatus,
    StaffStatusRepository,
    TotpRepository,
    is_disabled,
    write_audit,
)
from postex.accounts.app.staff import UserRecord, UserRepository
from postex.accounts.events import StaffDisabled, StaffEnabled
from postex.kernel.errors import ForbiddenError, InvalidStateError, NotFoundError, ValidationError

# The CLI is run by an operator with the node's database and keys: an administrator.
CLI_ADMIN = Principal("cli", "cli", Role.ADMIN, "cli", name="cli")
HANDLE = 12  # hex digits of a session id's hash that name it to an admin
MAX_REASON = 500


@dataclass(frozen=True)
class UserSummary:
    id: str
    username: str
    role: str
    site: str | None
    disabled: bool
    totp: bool
    last_sign_in: str | None
    sessions: int
    disabled_reason: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "username": self.username, "role": self.role,
                "site": self.site, "disabled": self.disabled, "totp": self.totp,
                "last_sign_in": self.last_sign_in, "sessions": self.sessions}  # fmt: skip


@dataclass(frozen=True)
class SessionInfo:
    handle: str  # the start of the id's SHA-256: names the session, opens nothing
    stage: str
    signed_in_at: str
    last_seen_at: str
    ip: str | None

    def as_dict(self) -> dict[str, object]:
        return {"session": self.handle, "stage": self.stage, "signed_in_at": self.signed_in_at,
                "last_seen_at": self.last_seen_at, "ip": self.ip}  # fmt: skip


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _limits(console: Console) -> tuple[int, int]:
    now = int(console.ctx.clock.now().timestamp())
    return now - console.policy.idle_seconds, now - console.policy.absolute_seconds


def _admin(actor: Principal) -> None:
    require_roles(actor, Role.ADMIN)


def _reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text or len(text) > MAX_REASON:
        raise ValidationError.single(
            "reason", "length", None, f"say why in 1 to {MAX_REASON} characters"
        )
    return text


def _summary(user: UserRecord, status: StaffStatus | None, totp: bool, n: int) -> UserSummary:
    status = status or StaffStatus(user.id)
    return UserSummary(user.id, user.username, str(user.role), user.site,
                       status.disabled_at is not None, totp, status.last_sign_in_at, n,
                       status.disabled_reason)  # fmt: skip


def list_users(console: Console, actor: Principal) -> list[UserSummary]:
    """Every staff user, by username, with state, second factor, last sign-in and how many
    live console sessions they have."""
    _admin(actor)
    with console.ctx.store.read() as uow:
        users = uow.repo(UserRepository).all()
        statuses = uow.repo(StaffStatusRepository).all()
        enrolled = uow.repo(TotpRepository).enrolled()
    counts = console.sessions.counts(*_limits(console))
    return [
        _summary(u, statuses.get(u.id), u.id in enrolled, counts.get(u.id, 0))
        for u in sorted(users, key=lambda u: u.username)
    ]


def find_user(console: Console, actor: Principal, username: str) -> UserSummary:
    """One user's summary; NotFoundError if there is no such username."""
    _admin(actor)
    name = username.strip().lower()
    with console.ctx.store.read() as uow:
        user = uow.repo(UserRepository).by_username(name)
        if user is None:
            raise NotFoundError(f"no user {name[:40]}")
        status = uow.repo(StaffStatusRepository).get(user.id)
        totp = uow.repo(TotpRepository).get(user.id) is not None
    sessions = console.sessions.for_user(user.id)
    live = [s for s in sessions if _live(console, s.last_seen, s.created_at)]
    return _summary(user, status, totp, len(live))


def _live(console: Console, last_seen: int, created_at: int) -> bool:
    seen_after, created_after = _limits(console)
    return last_seen > seen_after and created_at > created_after


def _end_all(console: Console, actor: Principal, user: UserSummary, reason: str) -> int:
    ended = console.sessions.remove_user(user.id)
    if ended:
        write_audit(console, actor.actor(), "staff.sessions_ended", user.id, reason,
                    {"sessions": ended})  # fmt: skip
    return ended


def disable_user(console: Console, actor: Principal, username: str, reason: str) -> int:
    """Disable a user and end their sessions at once; how many sessions were ended.

    ForbiddenError for one's own account (another admin must do it); InvalidStateError if
    the user is disabled already.
    """
    user = find_user(console, actor, username)
    why = _reason(reason)
    if user.id == actor.subject:
        raise ForbiddenError("you cannot disable your own account: ask another admin",
                             rule="self")  # fmt: skip
    with console.ctx.store.write(console.ctx.site) as uow:
        if is_disabled(uow.repo(StaffStatusRepository), user.id):
            raise InvalidStateError(f"{user.username} is disabled already", rule="disabled")
        uow.append(
            [
                StaffDisabled(user.id, actor.actor(), why),
                audit_event(actor.actor(), "staff.disabled", user.id, why,
                            {"username": user.username}),
            ]
        )  # fmt: skip
    return _end_all(console, actor, user, why)


def enable_user(console: Console, actor: Principal, username: str, reason: str) -> None:
    """Enable a disabled user again (their API tokens work again; sessions stay ended)."""
    user = find_user(console, actor, username)
    why = _reason(reason)
    with console.ctx.store.write(console.ctx.site) as uow:
        if not is_disabled(uow.repo(StaffStatusRepository), user.id):
            raise InvalidStateError(f"{user.username} is not disabled", rule="enabled")
        uow.append(
            [
                StaffEnabled(user.id, actor.actor(), why),
                audit_event(actor.actor(), "staff.enabled", user.id, why,
                            {"username": user.username}),
            ]
        )  # fmt: skip


def user_sessions(console: Console, actor: Principal, username: str) -> list[SessionInfo]:
    """A user's live console sessions, newest sign-in first."""
    user = find_user(console, actor, username)
    found = [s for s in console.sessions.for_user(user.id)
             if _live(console, s.last_seen, s.created_at)]  # fmt: skip
    found.sort(key=lambda s: s.created_at, reverse=True)
    return [
        SessionInfo(s.id_sha256[:HANDLE], str(s.stage), _iso(s.created_at), _iso(s.last_seen), s.ip)
        for s in found
    ]


def end_sessions(
    console: Console, actor: Principal, username: str, reason: str, session: str = ""
) -> int:
    """End one of a user's sessions (by its handle) or all of them; how many were ended.

    NotFoundError for a handle that names none of the user's sessions.
    """
    user = find_user(console, actor, username)
    why = _reason(reason)
    handle = session.strip().lower()
    if not handle:
        return _end_all(console, actor, user, why)
    if len(handle) != HANDLE or any(c not in "0123456789abcdef" for c in handle):
        raise NotFoundError(f"no session {handle[:HANDLE]} of {user.username}")
    ended = console.sessions.remove_user(user.id, handle)
    if not ended:
        raise NotFoundError(f"no session {handle} of {user.username}")
    write_audit(console, actor.actor(), "staff.session_ended", user.id, why,
                {"session": handle})  # fmt: skip
    return ended
