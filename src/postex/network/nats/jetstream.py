"""Connecting to NATS and declaring the replication stream."""

from __future__ import annotations

import logging
from typing import Any

import nats
from nats.aio.client import Client
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from postex.network.app.wire import Subjects

log = logging.getLogger("postex.replication")
DUPLICATE_WINDOW_S = 120.0


async def _quiet(_exc: Exception) -> None:
    """Connection errors are expected while NATS is down; the loops retry by themselves."""


async def connect(url: str, name: str) -> Client:
    """Connect, reconnecting forever in the background after the first success."""
    return await nats.connect(
        url,
        name=name,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=2,
        error_cb=_quiet,
    )


async def ensure_stream(nc: Client, subjects: Subjects) -> None:
    """Create the file-backed stream that holds every site's messages, if missing."""
    js = nc.jetstream()
    config = StreamConfig(
        name=subjects.stream,
        subjects=subjects.stream_subjects,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_S,
    )
    try:
        await js.stream_info(subjects.stream)
    except NotFoundError:
        await js.add_stream(config)


async def delete_stream(url: str, subjects: Subjects) -> bool:
    nc = await nats.connect(url, connect_timeout=2, error_cb=_quiet)
    try:
        return bool(await nc.jetstream().delete_stream(subjects.stream))
    except NotFoundError:
        return False
    finally:
        await nc.close()


def headers(msg_id: str, **extra: Any) -> dict[str, str]:
    return {"Nats-Msg-Id": msg_id, **{k: str(v) for k, v in extra.items()}}
