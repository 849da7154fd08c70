"""The console's second factor: TOTP (RFC 6238) with one-time recovery codes.

The secret is drawn at enrolment, kept in the session until the user proves it with a
first code, then sealed with the vault under the user's own data key (key holder = user
id) and recorded in ``staff.totp_enrolled.v1`` with the hashes of ten recovery codes.
The codes themselves are shown once. Each spent recovery code is an event, so it stays
spent after a rebuild.
"""

from __future__ import annotations

import hashlib
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


def _right(console: Console, secret: str, code: str) -> bool:
    code = code.replace(" ", "").strip()
    now = console.ctx.clock.now()
    return code.isdigit() and pyotp.TOTP(secret).verify(code, for_time=now, valid_window=1)


def confirm_enrolment(console: Console, session: Session, code: str) -> tuple[Opened, list[str]]:
    """Record the pending secret once ``code`` proves it; returns the signed-in session and
    the recovery codes (to show once). ValidationError for a wrong code."""
    secret = session.pending_totp
    if secret is None:
        raise InvalidStateError("start the enrolment again", rule="no_pending_totp")
    if not _right(console, secret, code):
        raise ValidationError.single(
            "code", "totp", None, "that code is not right: type the 6 digits your app shows now"
        )
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
    with console.ctx.store.write(console.ctx.site) as uow:
        record = uow.repo(TotpRepository).get(session.user_id)
        if record is None:
            raise InvalidStateError("no second factor enrolled", rule="no_totp")
        secret = str(console.ctx.vault.open(uow, session.user_id, SEALED_AS,
                                            record.sealed_secret)["secret"])  # fmt: skip
        ok = _right(console, secret, code)
        if not ok and _hash(code) in record.recovery_sha256:
            uow.append(
                [
                    RecoveryCodeUsed(session.user_id, _hash(code)),
                    audit_event(actor, "staff.recovery_code_used", session.user_id),
                ]
            )
            ok = True
    if not ok:
        fail(console, session.username, session.user_id, actor)
        raise UnauthenticatedError(WRONG_CODE)
    console.throttle.clear(session.username)
    opened = renew(console, session, Stage.SIGNED_IN)
    write_audit(console, actor, "staff.signed_in", session.user_id)
    return opened
