"""Staff console sessions: sign-in with a password (then TOTP), server-side and revocable.

A session is a random id held by the browser; the database keeps only its SHA-256, the
user it belongs to, its stage and a CSRF token. A session is usable for 30 minutes after
its last request and never longer than 12 hours after sign-in (``SessionPolicy``); each
change of stage (password, second factor, enrolment) gives a new id, so an id planted
before sign-in is worth nothing after it. Failed sign-ins in a row lock the username for
a while. Sign-in, failure, lockout and sign-out are audit events in the node's log.

The sign-in form, posted before any session exists, carries a signed double-submit token
(``sign_in_form_token``). A disabled user cannot sign in, and their sessions open nothing
(``SessionStore.get``). ``cleanup_chore`` deletes what has expired.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from argon2 import PasswordHasher

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import Principal, Role
from postex.accounts.app.staff import UserRecord, UserRepository, check_password
from postex.eventlog.context import Context
from postex.kernel.errors import RateLimitedError, UnauthenticatedError

# Roles that must pass a second factor; clerks may enrol one but need not.
TOTP_REQUIRED = frozenset({Role.SUPERVISOR, Role.OPS, Role.AUDITOR, Role.ADMIN})
WRONG = "wrong username or password"
WRONG_CODE = "that code is not right: sign in again"
DISABLED = "this account is disabled: ask an administrator"
UNKNOWN = "unknown"  # the audit target of a sign-in with a name nobody has


class Stage(StrEnum):
    TOTP = "totp"  # password right; the TOTP code (or a recovery code) is next
    ENROL = "enrol"  # password right; must enrol a second factor before going on
    SIGNED_IN = "signed_in"


@dataclass(frozen=True)
class SessionPolicy:
    idle_seconds: int = 30 * 60
    absolute_seconds: int = 12 * 3600
    max_failures: int = 5
    lockout_seconds: int = 15 * 60


@dataclass(frozen=True)
class Session:
    id_sha256: str
    user_id: str
    username: str
    role: Role
    site: str | None
    stage: Stage
    csrf: str
    created_at: int
    last_seen: int
    ip: str | None = None
    pending_totp: str | None = None  # an enrolment's secret until its first code is right
    accepted: int = 0  # this shift's scans, by outcome
    refused: int = 0
    held: int = 0
    customer_id: str | None = None  # a sender portal session: the customer its user acts for

    def principal(self) -> Principal:
        if self.customer_id is not None:
            return Principal("customer", self.customer_id, Role.CUSTOMER, "portal",
                             name=self.username, ip=self.ip)  # fmt: skip
        return Principal("staff", self.user_id, self.role, "console", self.site,
                         name=self.username, ip=self.ip)  # fmt: skip


class SessionStore(Protocol):
    """Sessions: operational state in their own short transactions, never in the log."""

    def add(self, s: Session) -> None: ...

    def get(self, id_sha256: str) -> Session | None:
        """The session, or None if there is none or its user is disabled."""
        ...

    def for_user(self, user_id: str) -> list[Session]: ...

    def counts(self, seen_after: int, created_after: int) -> dict[str, int]:
        """How many live sessions each user has (last seen and created after the times)."""
        ...

    def remove_user(self, user_id: str, id_prefix: str = "") -> int:
        """Delete the user's sessions (those whose id hash starts with ``id_prefix``)."""
        ...

    def purge(self, seen_before: int, created_before: int) -> int:
        """Delete sessions last seen or created before the times; how many."""
        ...

    def touch(self, id_sha256: str, at: int) -> None: ...

    def set_pending_totp(self, id_sha256: str, secret: str | None) -> None: ...

    def count(self, id_sha256: str, outcome: str) -> None:
        """Add one to the session's ``accepted``, ``refused`` or ``held`` count."""
        ...

    def remove(self, id_sha256: str) -> None: ...


class SignInThrottle(Protocol):
    def locked_until(self, username: str) -> int: ...

    def fail(self, username: str, now: int, max_failures: int, lock_seconds: int) -> bool:
        """Count a failure; True when this one locks the name (failures reset on lock)."""
        ...

    def clear(self, username: str) -> None: ...

    def purge(self, now: int, untouched_since: int) -> int:
        """Delete rows no longer locked at ``now`` whose last failure is older than
        ``untouched_since``; how many."""
        ...


class TotpSteps(Protocol):
    """The last TOTP time step accepted per user, shared by every process on the database."""

    def use(self, user_id: str, step: int) -> bool:
        """Record ``step`` if it is later than the last one accepted; False if it is not
        (the code was used already)."""
        ...


@dataclass(frozen=True)
class TotpRecord:
    user_id: str
    sealed_secret: str
    recovery_sha256: tuple[str, ...]  # the codes not spent yet


@dataclass(frozen=True)
class StaffStatus:
    """What the log says of a user beyond their creation: disabled, last signed in."""

    user_id: str
    disabled_at: str | None = None
    disabled_reason: str = ""
    last_sign_in_at: str | None = None


class StaffStatusRepository(Protocol):
    def get(self, user_id: str) -> StaffStatus | None: ...

    def all(self) -> dict[str, StaffStatus]: ...


def is_disabled(repo: StaffStatusRepository, user_id: str) -> bool:
    status = repo.get(user_id)
    return status is not None and status.disabled_at is not None


class TotpRepository(Protocol):
    def get(self, user_id: str) -> TotpRecord | None: ...

    def enrolled(self) -> set[str]:
        """The ids of every user with a second factor."""
        ...


@dataclass
class Console:
    """What console sign-in needs: the node's context, the session store and its rules.

    ``form_key`` signs the sign-in form's CSRF token (no session exists yet to hold one).
    """

    ctx: Context
    sessions: SessionStore
    throttle: SignInThrottle
    policy: SessionPolicy
    steps: TotpSteps
    form_key: bytes


@dataclass(frozen=True)
class Opened:
    token: str  # the cookie value, shown once; only its hash is stored
    session: Session


@functools.cache
def _nobody() -> UserRecord:
    """A user no password matches, checked in place of an unknown name."""
    never = PasswordHasher().hash(secrets.token_urlsafe(16))
    return UserRecord("", "", Role.CLERK, None, "", never)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now(console: Console) -> int:
    return int(console.ctx.clock.now().timestamp())


def write_audit(
    console: Console,
    actor: dict[str, object],
    action: str,
    target: str,
    reason: str = "",
    details: dict[str, object] | None = None,
) -> None:
    with console.ctx.store.write(console.ctx.site) as uow:
        uow.append([audit_event(actor, action, target, reason, details)])


# --- the sign-in form's CSRF token: signed double submit, before any session exists ------
FORM_TOKEN_SECONDS = 12 * 3600


def _form_mac(console: Console, body: str) -> str:
    return hmac.new(console.form_key, body.encode(), hashlib.sha256).hexdigest()


def sign_in_form_token(console: Console) -> str:
    """A token for the sign-in form, set both as a cookie and in the form: ``time.nonce.mac``."""
    body = f"{_now(console)}.{secrets.token_urlsafe(16)}"
    return f"{body}.{_form_mac(console, body)}"


def check_sign_in_form(console: Console, cookie: str | None, sent: str | None) -> bool:
    """Whether the form sent back the token of its own cookie, signed by this node and
    less than 12 hours old."""
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        return False
    body, _, mac = cookie.rpartition(".")
    issued = body.split(".", 1)[0]
    if not issued.isdigit() or not hmac.compare_digest(mac, _form_mac(console, body)):
        return False
    return 0 <= _now(console) - int(issued) <= FORM_TOKEN_SECONDS


def open_session(console: Console, user: UserRecord, stage: Stage, ip: str | None) -> Opened:
    """A new session (new id, new CSRF token) for ``user`` at ``stage``."""
    token = secrets.token_urlsafe(32)
    now = _now(console)
    session = Session(digest(token), user.id, user.username, user.role, user.site, stage,
                      secrets.token_urlsafe(32), now, now, ip)  # fmt: skip
    console.sessions.add(session)
    return Opened(token, session)


def renew(console: Console, old: Session, stage: Stage) -> Opened:
    """The same sign-in under a new id and stage; the old id stops working."""
    token = secrets.token_urlsafe(32)
    session = replace(old, id_sha256=digest(token), stage=stage, pending_totp=None,
                      csrf=secrets.token_urlsafe(32), last_seen=_now(console))  # fmt: skip
    console.sessions.remove(old.id_sha256)
    console.sessions.add(session)
    return Opened(token, session)


def fail(console: Console, username: str, target: str, actor: dict[str, object]) -> None:
    """Record a failed attempt against ``target`` (a user id, or ``unknown``) and lock the
    name after too many in a row. The typed name is never written to the log: people type
    passwords into the name field by mistake."""
    p = console.policy
    locked = console.throttle.fail(username, _now(console), p.max_failures, p.lockout_seconds)
    write_audit(console, actor, "staff.sign_in_failed", target)
    if locked:
        write_audit(console, actor, "staff.locked_out", target)


def refuse_if_locked(console: Console, username: str) -> None:
    wait = console.throttle.locked_until(username) - _now(console)
    if wait > 0:
        raise RateLimitedError(
            f"too many failed sign-ins: try again in {(wait + 59) // 60} minutes", wait
        )


def sign_in(console: Console, username: str, password: str, ip: str | None) -> Opened:
    """Check a username and password and open a session at its next stage.

    UnauthenticatedError (one message for an unknown name and a wrong password) counts a
    failure; RateLimitedError while the name is locked, without checking the password.
    """
    name = username.strip().lower()
    refuse_if_locked(console, name)
    with console.ctx.store.read() as uow:
        user = uow.repo(UserRepository).by_username(name)
        enrolled = user is not None and uow.repo(TotpRepository).get(user.id) is not None
        disabled = user is not None and is_disabled(uow.repo(StaffStatusRepository), user.id)
    target = user.id if user else UNKNOWN
    anonymous: dict[str, object] = {"kind": "console", "id": target, "ip": ip}
    # An unknown name costs one argon2 verification too, so timing does not tell names apart.
    if not check_password(user or _nobody(), password) or user is None:
        fail(console, name, target, anonymous)
        raise UnauthenticatedError(WRONG)
    if disabled:
        # Only someone who knows the password learns the account is disabled.
        write_audit(console, anonymous, "staff.sign_in_failed", user.id, "disabled")
        raise UnauthenticatedError(DISABLED)
    if enrolled:
        stage = Stage.TOTP
    elif user.role in TOTP_REQUIRED:
        stage = Stage.ENROL
    else:
        stage = Stage.SIGNED_IN
    opened = open_session(console, user, stage, ip)
    if stage is Stage.SIGNED_IN:
        console.throttle.clear(name)
        write_audit(console, opened.session.principal().actor(), "staff.signed_in", user.id)
    return opened


# A scan is a write already: the session's last-seen time is written at most this often, so a
# clerk scanning twice a second costs one commit a scan, not two. Idle time is counted from
# the last write, so a session may end up to this much earlier than its idle limit.
TOUCH_EVERY_SECONDS = 15


def current(console: Console, token: str | None, *, touch: bool = True) -> Session:
    """The live session behind a cookie value; UnauthenticatedError if none, expired or
    revoked (an expired session is removed). ``touch=False`` reads it without counting as
    activity: a page refreshing itself must not keep an unattended session alive."""
    if not token:
        raise UnauthenticatedError("sign in first")
    key = digest(token)
    session = console.sessions.get(key)
    if session is None:
        raise UnauthenticatedError("sign in first")
    now = _now(console)
    p = console.policy
    if now - session.last_seen > p.idle_seconds or now - session.created_at > p.absolute_seconds:
        console.sessions.remove(key)
        raise UnauthenticatedError("your session has ended: sign in again")
    if touch and now - session.last_seen >= TOUCH_EVERY_SECONDS:
        console.sessions.touch(key, now)
        return replace(session, last_seen=now)
    return session


def check_csrf(session: Session, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf, str(sent))


def sign_out(console: Console, session: Session) -> None:
    console.sessions.remove(session.id_sha256)
    write_audit(console, session.principal().actor(), "staff.signed_out", session.user_id)


# --- housekeeping --------------------------------------------------------------------------
THROTTLE_RETENTION_SECONDS = 24 * 3600  # failures untouched this long are forgotten
CLEANUP_EVERY_SECONDS = 60


def cleanup_chore(console: Console) -> Callable[[], int]:
    """One round of the worker's clean-up: delete sessions past their idle or absolute limit
    and sign-in throttle rows neither locked nor touched for a day. Returns how many rows.
    Rounds come every second or so; this one works at most once a minute."""
    last = [-CLEANUP_EVERY_SECONDS]

    def run() -> int:
        now = _now(console)
        if now - last[0] < CLEANUP_EVERY_SECONDS:
            return 0
        last[0] = now
        p = console.policy
        ended = console.sessions.purge(now - p.idle_seconds, now - p.absolute_seconds)
        forgotten = console.throttle.purge(now, now - THROTTLE_RETENTION_SECONDS)
        return ended + forgotten

    return run
