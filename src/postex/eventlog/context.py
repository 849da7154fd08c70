"""What every use case gets: the store, the vault, the clock and the node's identity."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from postex.eventlog.ports import Clock, Store, UnitOfWork, Vault
from postex.kernel.network import SerialSlot


class ExportPolicy(Protocol):
    """A rule that can suspend export actions (export holds implement it).

    ``action`` is one of ``pre_advice``, ``acceptance``, ``receptacle``, ``despatch``;
    ``subject`` carries ``service``, ``destination``, ``site``, ``has_goods``,
    ``customs_form`` and, once it exists, ``item_id``.
    """

    def check(self, uow: UnitOfWork, action: str, subject: Mapping[str, Any]) -> None:
        """Raise HeldError (naming the hold and quoting its advisory) to refuse."""
        ...


@dataclass
class Context:
    store: Store
    vault: Vault
    clock: Clock
    site: str  # the log this node writes to (its own site code)
    country: str = "GB"  # the issuing country of S10 ids and the origin of exports
    policies: list[ExportPolicy] = field(default_factory=list)
    serial_slot: SerialSlot | None = None  # a site of a network: its part of each S10 block

    def enforce(self, uow: UnitOfWork, action: str, subject: Mapping[str, Any]) -> None:
        for policy in self.policies:
            policy.check(uow, action, subject)

    def now_text(self) -> str:
        from postex.eventlog.chain import format_time

        return format_time(self.clock.now())


def new_id(prefix: str) -> str:
    """An opaque, unguessable id such as ``cus_3f9a…`` (never a sequence number)."""
    return f"{prefix}_{secrets.token_hex(10)}"
