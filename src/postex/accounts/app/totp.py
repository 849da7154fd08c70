"""The console's second factor: TOTP (RFC 6238) with one-time recovery codes.

The secret is drawn at enrolment, kept in the session until the user proves it with a
first code, then sealed with the vault under the user's own data key (key holder = user
id) and recorded in ``staff.totp_enrolled.v1`` with the hashes of ten recovery codes.
The codes themselves are shown once. Each spent recovery code is an event, so it stays
spent after a rebuild.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp

from postex.accounts.app.audit import audit_event
from postex.accounts.app.sessions import (
    WRONG_CODE,
    Console,
    Opened,
    Session,
    Stage,
    TotpRepository,
    fail,
    refuse_if_locked,
    renew,
    write_audit,
)
from postex.accounts.session_events import RecoveryCodeUsed, TotpEnrolled
from postex.kernel.errors import InvalidStateError, UnauthenticatedError, ValidationError

ISSUER = "Postex"
RECOVERY_CODES = 10
SEALED_AS = "staff.totp"  # the vault's associated data: a sealed secret opens only here


def _hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


def start_enrolment(console: Console, session: Session) -> str:
    """A new secret for ``session``'s user, kept in the session until confirmed."""
    if session.stage is Stage.TOTP:
        raise InvalidStateError("give your current code first", rule="totp_stage")
    secret = pyotp.random_base32()
    console.sessions.set_pending_totp(session.id_sha256, secret)
    return secret


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def _step(console: Console, secret: str, code: str) -> int | None:
    """The time step ``code`` is right for (now, or one step either side), or None."""
    code = code.replace(" ", "").strip()
    if not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(console.ctx.clock.now())
    for step in (now, now - 1, now + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _right(console: Console, user_id: str, secret: str, code: str) -> bool:
    """Whether ``code`` is right now and not used before: each time step's code signs in
    once (the last accepted step is kept per user, in the database every process shares)."""
    step = _step(console, secret, code)
    return step is not None and console.steps.use(user_id, step)


def _factor(console: Console, session: Session, code: str) -> bool | None:
    """Whether ``code`` is the user's TOTP code now (not used before) or an unspent recovery
    code, which is spent if so; None when the user has no second factor."""
    with console.ctx.store.read() as uow:
        record = uow.repo(TotpRepository).get(session.user_id)
        if record is None:
            return None
        secret = str(console.ctx.vault.open(uow, session.user_id, SEALED_AS,
                                            record.sealed_secret)["secret"])  # fmt: skip
    # Outside any write of the log: the step store keeps short transactions of its own.
    if _right(console, session.user_id, secret, code):
        return True
    if not code or _hash(code) not in record.recovery_sha256:
        return False
    actor = session.principal().actor()
    with console.ctx.store.write(console.ctx.site) as uow:
        again = uow.repo(TotpRepository).get(session.user_id)  # spent meanwhile?
        if again is None or _hash(code) not in again.recovery_sha256:
            return False
        uow.append(
            [
                RecoveryCodeUsed(session.user_id, _hash(code)),
                audit_event(actor, "staff.recovery_code_used", session.user_id),
            ]
        )
    return True


def is_enrolled(console: Console, user_id: str) -> bool:
    with console.ctx.store.read() as uow:
        return uow.repo(TotpRepository).get(user_id) is not None


def confirm_enrolment(
    console: Console, session: Session, code: str, current: str = ""
) -> tuple[Opened, list[str]]:
    """Record the pending secret once ``code`` proves it; returns the signed-in session and
    the recovery codes (to show once). ValidationError for a wrong code.

    A user who has a second factor already must also give its ``current`` code (or a
    recovery code): a session left open on a shared PC must not be enough to take over the
    account's second factor. A wrong current code counts as a failed sign-in.
    """
    secret = session.pending_totp
    if secret is None:
        raise InvalidStateError("start the enrolment again", rule="no_pending_totp")
    step = _step(console, secret, code)
    if step is None:
        raise ValidationError.single(
            "code", "totp", None, "that code is not right: type the 6 digits your app shows now"
        )
    if session.stage is Stage.SIGNED_IN:
        refuse_if_locked(console, session.username)
        if _factor(console, session, current) is False:
            fail(console, session.username, session.user_id, session.principal().actor())
            raise ValidationError.single(
                "current", "totp", None,
                "that is not your current code: type the 6 digits your old app shows now",
            )  # fmt: skip
    # The new key's first code is spent too (the old key may have spent this step already).
    console.steps.use(session.user_id, step)
    codes = [f"{secrets.token_hex(2)}-{secrets.token_hex(2)}" for _ in range(RECOVERY_CODES)]
    actor = session.principal().actor()
    with console.ctx.store.write(console.ctx.site) as uow:
        vault = console.ctx.vault
        if uow.repo(TotpRepository).get(session.user_id) is None:
            vault.create_key(uow, session.user_id)
        sealed = vault.seal(uow, session.user_id, SEALED_AS, {"secret": secret})
        uow.append(
            [
                TotpEnrolled(session.user_id, sealed, [_hash(c) for c in codes]),
                audit_event(actor, "staff.totp_enrolled", session.user_id),
            ]
        )
    opened = renew(console, session, Stage.SIGNED_IN)
    write_audit(console, actor, "staff.signed_in", session.user_id)
    return opened, codes


def second_factor(console: Console, session: Session, code: str) -> Opened:
    """Finish a sign-in with a TOTP code or an unspent recovery code.

    A wrong code counts as a failed sign-in (UnauthenticatedError); RateLimitedError while
    the name is locked.
    """
    if session.stage is not Stage.TOTP:
        raise InvalidStateError("no code is expected now", rule="totp_stage")
    refuse_if_locked(console, session.username)
    actor = session.principal().actor()
    ok = _factor(console, session, code)
    if ok is None:
        raise InvalidStateError("no second factor enrolled", rule="no_totp")
    if not ok:
        fail(console, session.username, session.user_id, actor)
        raise UnauthenticatedError(WRONG_CODE)
    console.throttle.clear(session.username)
    opened = renew(console, session, Stage.SIGNED_IN)
    write_audit(console, actor, "staff.signed_in", session.user_id)
    return opened
