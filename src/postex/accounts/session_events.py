"""Events of the staff console's second factor: TOTP enrolment and recovery codes.

Sessions themselves are operational state (``staff_sessions``), not events; sign-in,
failures, lockouts and sign-out are recorded as ``audit.recorded.v1``. The TOTP secret is
never in the log in clear: it is sealed with the vault under the user's own data key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from postex.eventlog.catalogue import Event, doc


@dataclass(frozen=True, slots=True)
class TotpEnrolled(Event):
    TYPE: ClassVar[str] = "staff.totp_enrolled.v1"
    user_id: str
    sealed_secret: str = field(
        metadata=doc("the base32 TOTP secret sealed with the vault, key holder = the user id")
    )
    recovery_sha256: list[str] = field(
        metadata=doc("hex SHA-256 of each one-time recovery code; the codes are shown once")
    )


@dataclass(frozen=True, slots=True)
class RecoveryCodeUsed(Event):
    TYPE: ClassVar[str] = "staff.recovery_code_used.v1"
    user_id: str
    code_sha256: str = field(metadata=doc("which recovery code was spent (its hash)"))


EVENTS: tuple[type[Event], ...] = (TotpEnrolled, RecoveryCodeUsed)
