"""What the use cases need from the outside world, as Protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol, TypeVar

from postex.eventlog.authlog import Anchor, LogHead
from postex.eventlog.events import AnyEvent, Checkpoint, EventRow, StoredEvent
from postex.eventlog.saw import Imported

R = TypeVar("R")
Progress = Callable[[int], None]


class Clock(Protocol):
    def now(self) -> datetime: ...


class UnitOfWork(Protocol):
    """One transaction. Appends and projection updates commit together or not at all.

    Leaving the ``with`` block without an exception commits; an exception rolls back.
    """

    @property
    def site(self) -> str: ...

    def append(self, events: Sequence[AnyEvent]) -> list[StoredEvent[Any]]:
        """Append to this site's log (write transactions only) and update projections."""
        ...

    def repo(self, port: type[R]) -> R:
        """The store's implementation of a feature's query port, bound to this transaction."""
        ...


class Store(Protocol):
    """The event log as use cases see it: transactions, heads, reading, checkpoints."""

    def write(self, site: str) -> AbstractContextManager[UnitOfWork]:
        """A write transaction holding the site's single-writer lock."""
        ...

    def read(self) -> AbstractContextManager[UnitOfWork]: ...

    def sites(self) -> list[str]: ...

    def head(self, site: str) -> tuple[int, bytes]: ...

    def read_events(
        self, site: str, after_seq: int = 0, until_seq: int | None = None, batch: int = 5000
    ) -> Iterator[StoredEvent]: ...

    def read_rows(
        self, site: str, after_seq: int = 0, until_seq: int | None = None, batch: int = 5000
    ) -> Iterator[EventRow]:
        """As :meth:`read_events`, as plain tuples (bulk reading: verification)."""
        ...

    def checkpoints(self, site: str) -> list[Checkpoint]: ...

    def log_head(self, site: str) -> LogHead | None:
        """The site's authenticated head row as stored (postex.eventlog.authlog)."""
        ...


class Rebuilder(Protocol):
    """Projections rebuilt from the log (``postex rebuild``, the hub's arrival order)."""

    def rebuild(self, progress: Progress | None = None, batch: int = 5000) -> int:
        """Drop every projection and replay the whole log; return events replayed."""
        ...

    def authenticate(self, site: str) -> None:
        """Raise IntegrityError unless ``site``'s log is the authenticated one (a no-op for
        a log whose key this node does not hold, e.g. a hub's copies of the sites)."""
        ...

    def replay(
        self, events: Iterable[StoredEvent], progress: Progress | None = None, batch: int = 5000
    ) -> int:
        """Drop every projection and the heads, apply ``events`` in the order given (each
        site's head is its last event), ``batch`` at a time; return how many."""
        ...

    def projection_digest(self) -> Mapping[str, Any]:
        """A comparable snapshot of every projection table (for rebuild == live)."""
        ...


DataKeyRow = tuple[str, str, bytes, str]  # (customer id, KEK id, wrapped key, created at)


class LogAdmin(Protocol):
    """What backup, restore, replication and the checkpoint timer do to a log besides use
    cases: copy in events hashed elsewhere, wipe, move wrapped data keys, sign or store
    checkpoints."""

    def import_events(self, site: str, events: Sequence[StoredEvent], project: bool = True) -> int:
        """Append already-hashed events after the site's head; return how many.

        Raise IntegrityError (nothing written) if they do not link and verify. Without
        ``project`` the projections are left for a rebuild.
        """
        ...

    def import_run(
        self,
        site: str,
        events: Sequence[StoredEvent],
        project: bool = True,
        verified: bool = False,
    ) -> Imported:
        """:meth:`import_events`, also returning the logs a differing ``saw`` holds back;
        ``verified`` (the caller checked the run's links and hashes just now): only its
        link to the head is checked."""
        ...

    def wipe(self) -> None:
        """Delete every event, checkpoint, data key and projection row (before a restore)."""
        ...

    def export_data_keys(self) -> list[DataKeyRow]: ...

    def import_data_keys(self, keys: Sequence[DataKeyRow]) -> int:
        """Put back wrapped data keys; keys of customers already present stay. Return how many."""
        ...

    def save_checkpoint(self, cp: Checkpoint) -> None:
        """Store a checkpoint signed elsewhere (a witness copy)."""
        ...

    def checkpoint_now(self, site: str) -> Checkpoint | None:
        """Sign the site's head unless it is checkpointed already (or this node signs nothing).

        Raise IntegrityError when events lie past the authenticated head."""
        ...

    def anchor(self, site: str) -> Anchor | None:
        """The site's local anchor (postex.eventlog.authlog), if this node keeps one."""
        ...

    def reanchor(self, site: str) -> None:
        """Move the local anchor to the authenticated head, even backwards (a restore)."""
        ...


class DataKeys(Protocol):
    """Wrapped per-customer data keys, kept outside the log so erasure can destroy them."""

    def get(self, customer_id: str) -> tuple[str, bytes] | None:
        """(kek_id, wrapped key), or None if the customer has no key or it was destroyed."""
        ...

    def put(self, customer_id: str, kek_id: str, wrapped: bytes) -> None: ...

    def destroy(self, customer_id: str) -> bool: ...

    def all(self) -> list[tuple[str, str, bytes]]: ...


class Vault(Protocol):
    """Encrypts personal data under a customer's data key (AES-256-GCM)."""

    def create_key(self, uow: UnitOfWork, customer_id: str) -> None: ...

    def seal(self, uow: UnitOfWork, customer_id: str, aad: str, data: Mapping[str, Any]) -> str: ...

    def open(self, uow: UnitOfWork, customer_id: str, aad: str, token: str) -> dict[str, Any]:
        """Decrypt; raise KeyUnavailableError if the customer's key was destroyed."""
        ...

    def blind_index(self, uow: UnitOfWork, customer_id: str, purpose: str, value: str) -> str:
        """A keyed hash of ``value`` for equality search over sealed data (hex).

        Keyed per customer (derived from the data key); KeyUnavailableError once erased.
        """
        ...

    def destroy(self, uow: UnitOfWork, customer_id: str) -> None: ...

    def rotate(self, uow: UnitOfWork, progress: Progress | None = None) -> int:
        """Re-wrap every data key under the current key-encryption key; return how many."""
        ...
