"""Audit events: every staff action is recorded in the log with who, when, where, why.

``when`` is the event's ``recorded_at``; ``who`` and ``from where`` come from the actor.
"""

from __future__ import annotations

from typing import Any

from postex.accounts.events import AuditRecorded
from postex.eventlog.catalogue import Event


def audit_event(
    actor: dict[str, Any],
    action: str,
    target: str,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> Event:
    """An audit entry, e.g. ``audit_event(p.actor(), "hold.placed", "hold_…", "ransomware")``."""
    return AuditRecorded(
        actor=actor, action=action, target=target, reason=reason, details=details or {}
    )
