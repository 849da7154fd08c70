"""Rotation of the key-encryption key: re-wrap data keys; no event is touched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from postex.accounts.app.audit import audit_event
from postex.accounts.events import KeysRotated
from postex.eventlog.context import Context
from postex.eventlog.ports import Progress


class RotatableKek(Protocol):
    def begin_rotation(self) -> str:
        """Make a new active KEK, keeping the old ones readable; return its id."""
        ...

    def retire_others(self) -> list[str]: ...


@dataclass(frozen=True)
class RotationResult:
    new_kek_id: str
    rewrapped: int
    retired: list[str]


def rotate_kek(
    ctx: Context, kek: RotatableKek, progress: Progress | None = None, actor: str = "cli"
) -> RotationResult:
    """New KEK first, re-wrap every data key in one transaction, then retire the old KEK.

    If re-wrapping fails, the old KEK is still in the key file and every data key still
    opens under it; running the command again finishes the job.
    """
    new_id = kek.begin_rotation()
    with ctx.store.write(ctx.site) as uow:
        count = ctx.vault.rotate(uow, progress)
        uow.append(
            [
                KeysRotated(kek_id=new_id, data_keys=count, actor=actor),
                audit_event(
                    {"kind": "cli", "id": actor},
                    "keys.rotated",
                    new_id,
                    details={"data_keys": count},
                ),
            ]
        )
    retired = kek.retire_others()
    return RotationResult(new_id, count, retired)
