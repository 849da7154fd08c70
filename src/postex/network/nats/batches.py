"""The messages of one fetch, grouped for the hub's consumer and a node's follower.

Consecutive events messages on one node's subject form a group, handled in one thread hop
and received as one run where their events follow on (postex.network.app.hub
``Hub.receive_runs``); every other message is a group of its own. Order is kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from postex.eventlog.events import StoredEvent
from postex.kernel.errors import PostexError
from postex.network.app.hub import Outcome
from postex.network.app.signatures import MessageSignature, read_signature

log = logging.getLogger("postex.replication")


class Message(Protocol):
    subject: str
    data: bytes
    headers: dict[str, str] | None


M = TypeVar("M", bound=Message)


def subject_parts(prefix: str, subject: str) -> tuple[str, str]:
    """(kind, node) of ``PREFIX.kind.NODE``."""
    kind, _, node = subject[len(prefix) + 1 :].partition(".")
    return kind, node


def grouped(prefix: str, msgs: Sequence[M]) -> list[tuple[str, str, list[M]]]:
    """(kind, node, messages) in fetch order; only events messages are ever grouped."""
    groups: list[tuple[str, str, list[M]]] = []
    for msg in msgs:
        kind, node = subject_parts(prefix, msg.subject)
        last = groups[-1] if groups else None
        if last is not None and kind == "events" and last[0] == kind and last[1] == node:
            last[2].append(msg)
        else:
            groups.append((kind, node, [msg]))
    return groups


async def handle_group(
    kind: str,
    node: str,
    group: Sequence[M],
    events: Callable[[str, Sequence[M]], None],
    one: Callable[[str, bytes, dict[str, str] | None], None],
) -> None:
    """A group off the event loop: events messages together, any other one by one."""
    if kind == "events":
        await asyncio.to_thread(events, node, group)
        return
    for msg in group:
        await asyncio.to_thread(one, msg.subject, msg.data, msg.headers)


def received(
    check: Callable[[str, bytes, MessageSignature | None], list[StoredEvent] | None],
    receive: Callable[[str, Sequence[Sequence[StoredEvent]]], Outcome],
    node: str,
    group: Sequence[Message],
    who: str,
) -> Outcome | None:
    """Check each events message of ``group`` (``node``'s), then ``receive`` the accepted
    runs together; None if none was accepted or what they carry was dropped (said so)."""
    runs = checked_runs(check, node, group, who)
    if not runs:
        return None
    try:
        return receive(node, runs)
    except PostexError as exc:
        log.warning("%s: dropped messages of %s: %s", who, node, exc.detail)
        return None


def checked_runs(
    check: Callable[[str, bytes, MessageSignature | None], list[StoredEvent] | None],
    node: str,
    group: Sequence[Message],
    who: str,
) -> list[list[StoredEvent]]:
    """The events of each message of ``group`` that ``check`` accepts, in order; a
    malformed message is dropped, and said so."""
    runs = []
    for msg in group:
        try:
            events = check(node, msg.data, read_signature(msg.headers))
        except PostexError as exc:
            log.warning("%s: dropped a message on %s: %s", who, msg.subject, exc.detail)
            continue
        if events is not None:
            runs.append(events)
    return runs
