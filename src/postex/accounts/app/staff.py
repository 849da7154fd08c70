"""Staff users: created with a role (and a site for clerks and supervisors), a token, an audit.

Passwords (for the staff console) are kept only as argon2id hashes, on this node only
(:class:`StaffPasswords`, never in the log: ``user.created.v2`` carries none). The API uses
the bearer token issued at creation; clerks and supervisors act only at their own site.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from postex.accounts.app.audit import audit_event
from postex.accounts.app.auth import STAFF_ROLES, Role, issue_token
from postex.accounts.events import UserCreated
from postex.eventlog.chain import format_time
from postex.eventlog.context import Context, new_id
from postex.kernel.errors import ConflictError, FieldError, NotFoundError, ValidationError
from postex.kernel.network import load_network

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,39}")
SITE_BOUND = frozenset({Role.CLERK, Role.SUPERVISOR})
MIN_PASSWORD = 12
_hasher = PasswordHasher()


@dataclass(frozen=True)
class UserRecord:
    id: str
    username: str
    role: Role
    site: str | None
    created_at: str
    password_hash: str | None


@dataclass(frozen=True)
class CreatedUser:
    record: UserRecord
    token: str  # shown once; only its hash is stored
    key_id: str


class StaffPasswords(Protocol):
    """Staff password hashes, node-local (written in the use case's transaction)."""

    def get(self, user_id: str) -> str | None: ...

    def set(self, user_id: str, password_hash: str, at: str) -> None: ...


class UserRepository(Protocol):
    def by_username(self, username: str) -> UserRecord | None: ...

    def get(self, user_id: str) -> UserRecord | None: ...

    def all(self) -> list[UserRecord]: ...


def _check(username: object, role: object, site: object, password: object) -> tuple[Role, str]:
    errors: list[FieldError] = []
    if not isinstance(username, str) or USERNAME.fullmatch(username) is None:
        errors.append(
            FieldError(
                "username",
                "format",
                username,
                "3–40 characters: lower-case letters, digits, dot, dash, underscore",
            )
        )
    staff = sorted(str(r) for r in STAFF_ROLES)
    parsed = Role(role) if isinstance(role, str) and role in staff else None
    if parsed is None:
        errors.append(FieldError("role", "one_of", role, f"role is one of {', '.join(staff)}"))
    if site is not None and site not in {s.code for s in load_network().sites}:
        errors.append(FieldError("site", "unknown_site", site, "not one of our sites"))
    if parsed in SITE_BOUND and site is None:
        errors.append(
            FieldError("site", "required", None, f"a {parsed} works at one site: give --site")
        )
    if password is not None and (not isinstance(password, str) or len(password) < MIN_PASSWORD):
        errors.append(FieldError("password", "length", "…", f"at least {MIN_PASSWORD} characters"))
    if errors:
        raise ValidationError(errors)
    assert parsed is not None and isinstance(username, str)
    return parsed, username


def create_user(
    ctx: Context,
    username: str,
    role: str,
    site: str | None = None,
    password: str | None = None,
    actor: dict[str, object] | None = None,
) -> CreatedUser:
    """Create a staff user and its first API token; ConflictError if the name is taken."""
    parsed, name = _check(username, role, site, password)
    user_id = new_id("usr")
    hashed = _hasher.hash(password) if password else None
    who = actor or {"kind": "cli", "id": "cli", "role": "admin"}
    with ctx.store.write(ctx.site) as uow:
        users = uow.repo(UserRepository)
        if users.by_username(name) is not None:
            raise ConflictError(f"username {name} is taken: choose another", rule="unique")
        token = issue_token("staff", user_id, parsed, site=site, name=name)
        uow.append(
            [
                UserCreated(user_id=user_id, username=name, role=str(parsed), site=site),
                token.event,
                audit_event(
                    who,
                    "user.created",
                    user_id,
                    details={"role": str(parsed), "site": site, "username": name},
                ),
            ]
        )
        if hashed is not None:
            uow.repo(StaffPasswords).set(user_id, hashed, format_time(ctx.clock.now()))
        record = users.get(user_id)
    assert record is not None
    return CreatedUser(record, token.token, token.key_id)


def set_password(
    ctx: Context, username: str, password: str, actor: dict[str, object] | None = None
) -> UserRecord:
    """Set (or reset) a staff user's console password: after a restore onto a new node, or
    when it is forgotten. The hash stays on this node; the audit trail says who set it."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError.single(
            "password", "length", "…", f"at least {MIN_PASSWORD} characters"
        )
    name = username.strip().lower()
    hashed = _hasher.hash(password)
    who = actor or {"kind": "cli", "id": "cli", "role": "admin"}
    with ctx.store.write(ctx.site) as uow:
        user = uow.repo(UserRepository).by_username(name)
        if user is None:
            raise NotFoundError(f"no user {name[:40]}")
        uow.repo(StaffPasswords).set(user.id, hashed, format_time(ctx.clock.now()))
        uow.append([audit_event(who, "staff.password_set", user.id, "", {"username": name})])
        record = uow.repo(UserRepository).get(user.id)
    assert record is not None
    return record


def check_password(record: UserRecord, password: str) -> bool:
    """Whether ``password`` is the user's (False when the user has none)."""
    if record.password_hash is None:
        return False
    try:
        return _hasher.verify(record.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
