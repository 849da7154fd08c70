"""What every use case gets: the store, the vault, the clock and the node's identity."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from postex.app.ports import Clock, Store, Vault


@dataclass
class Context:
    store: Store
    vault: Vault
    clock: Clock
    site: str  # the log this node writes to (its own site code)
    country: str = "GB"  # the issuing country of S10 ids and the origin of exports

    def now_text(self) -> str:
        from postex.eventlog.chain import format_time

        return format_time(self.clock.now())


def new_id(prefix: str) -> str:
    """An opaque, unguessable id such as ``cus_3f9a…`` (never a sequence number)."""
    return f"{prefix}_{secrets.token_hex(10)}"
