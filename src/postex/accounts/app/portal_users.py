"""Sender portal users: the people of a customer account who sign in to the portal.

An account can have several users, each with a password (kept only as an argon2id hash,
in the ``customer_users`` table: never in the log, so no hash travels with replication or
backups of the log) and an optional second factor (TOTP, the console's own: see
``totp.py``). Sign-in shares the console's session store, throttle and rules
(``sessions.py``); a portal session carries the customer id, so every portal page acts
as that customer through the same use cases as the customer API. Creating a user is an
audit event (its id and name, never its password or hash).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import Role
from postex.accounts.app.customers import CustomerRepository
from postex.accounts.app.sessions import (
    WRONG,
    Console,
    Opened,
    Session,
    Stage,
    TotpRepository,
    digest,
    fail,
    refuse_if_locked,
    write_audit,
)
from postex.accounts.app.staff import MIN_PASSWORD, USERNAME
from postex.eventlog.chain import format_time
from postex.eventlog.context import Context, new_id
from postex.kernel.errors import (
    ConflictError,
    FieldError,
    NotFoundError,
    UnauthenticatedError,
    ValidationError,
)

_hasher = PasswordHasher()
THROTTLE_PREFIX = "portal:"  # portal names are locked apart from staff names


@dataclass(frozen=True)
class CustomerUser:
    id: str
    customer_id: str
    username: str
    created_at: str
    password_hash: str  # argon2id; never shown, logged or returned by the CLI


class CustomerUserRepository(Protocol):
    def by_username(self, username: str) -> CustomerUser | None: ...

    def for_customer(self, customer_id: str) -> list[CustomerUser]: ...

    def add(self, user: CustomerUser) -> None: ...


def _check(username: object, password: object) -> str:
    errors: list[FieldError] = []
    if not isinstance(username, str) or USERNAME.fullmatch(username) is None:
        errors.append(FieldError("username", "format", username,
                                 "3–40 characters: lower-case letters, digits, dot, dash, "
                                 "underscore"))  # fmt: skip
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        errors.append(FieldError("password", "length", "…", f"at least {MIN_PASSWORD} characters"))
    if errors:
        raise ValidationError(errors)
    assert isinstance(username, str)
    return username


def create_customer_user(
    ctx: Context,
    customer_id: str,
    username: str,
    password: str,
    actor: dict[str, object] | None = None,
) -> CustomerUser:
    """A new portal user of ``customer_id``; NotFoundError for an unknown or erased
    account, ConflictError when the name is taken."""
    name = _check(username, password)
    hashed = _hasher.hash(password)
    who = actor or {"kind": "cli", "id": "cli", "role": "admin"}
    user = CustomerUser(new_id("cusr"), customer_id, name, format_time(ctx.clock.now()), hashed)
    with ctx.store.write(ctx.site) as uow:
        account = uow.repo(CustomerRepository).get(customer_id)
        if account is None or account.erased_at is not None:
            raise NotFoundError(f"no customer {customer_id}")
        users = uow.repo(CustomerUserRepository)
        if users.by_username(name) is not None:
            raise ConflictError(f"username {name} is taken: choose another", rule="unique")
        users.add(user)
        details = {"customer_id": customer_id, "username": name}
        uow.append([audit_event(who, "customer_user.created", user.id, details=details)])
    return user


def list_customer_users(ctx: Context, customer_id: str) -> list[CustomerUser]:
    """The account's portal users, oldest first; NotFoundError for an unknown account."""
    with ctx.store.read() as uow:
        if uow.repo(CustomerRepository).get(customer_id) is None:
            raise NotFoundError(f"no customer {customer_id}")
        return uow.repo(CustomerUserRepository).for_customer(customer_id)


_NOBODY: list[str] = []


def _nobody_hash() -> str:
    """A hash no password matches, checked in place of an unknown name (same timing)."""
    if not _NOBODY:
        _NOBODY.append(_hasher.hash(secrets.token_urlsafe(16)))
    return _NOBODY[0]


def _right(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def open_portal_session(
    console: Console, user: CustomerUser, stage: Stage, ip: str | None
) -> Opened:
    """A new session (new id, new CSRF token) of a portal user, in the console's store."""
    token = secrets.token_urlsafe(32)
    now = int(console.ctx.clock.now().timestamp())
    session = Session(digest(token), user.id, user.username, Role.CUSTOMER, None, stage,
                      secrets.token_urlsafe(32), now, now, ip,
                      customer_id=user.customer_id)  # fmt: skip
    console.sessions.add(session)
    return Opened(token, session)


def sign_in_customer(console: Console, username: str, password: str, ip: str | None) -> Opened:
    """Check a portal user's name and password and open a session at its next stage
    (the TOTP code when the user enrolled one). One message for an unknown name, a wrong
    password and an erased account (UnauthenticatedError, counted as a failure);
    RateLimitedError while the name is locked."""
    name = username.strip().lower()
    throttled = THROTTLE_PREFIX + name
    refuse_if_locked(console, throttled)
    with console.ctx.store.read() as uow:
        user = uow.repo(CustomerUserRepository).by_username(name)
        account = uow.repo(CustomerRepository).get(user.customer_id) if user else None
        enrolled = user is not None and uow.repo(TotpRepository).get(user.id) is not None
    target = user.id if user else "unknown"
    anonymous: dict[str, object] = {"kind": "portal", "id": target, "ip": ip}
    ok = _right(user.password_hash if user else _nobody_hash(), password)
    if not ok or user is None or account is None or account.erased_at is not None:
        fail(console, throttled, target, anonymous)
        raise UnauthenticatedError(WRONG)
    stage = Stage.TOTP if enrolled else Stage.SIGNED_IN
    opened = open_portal_session(console, user, stage, ip)
    if stage is Stage.SIGNED_IN:
        console.throttle.clear(throttled)
        write_audit(console, opened.session.principal().actor(), "customer_user.signed_in", user.id)
    return opened
