"""Connecting to NATS (credentials, TLS) and declaring the replication stream (limits)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from postex.kernel.errors import ConfigurationError
from postex.network.app.wire import Subjects

log = logging.getLogger("postex.replication")
DUPLICATE_WINDOW_S = 120.0
DEFAULT_MAX_AGE_S = 14 * 86_400
DEFAULT_MAX_BYTES = 2 * 1024**3


class NatsAccessError(ConfigurationError):
    """NATS refused this client: wrong credentials, or a TLS handshake that failed."""

    code = "nats-access"
    title = "NATS refused the connection"


@dataclass(frozen=True)
class NatsAccess:
    """How every Postex NATS client authenticates and protects its connection.

    Secrets are values here, read by :func:`postex.bootstrap` from the environment or a
    file (never a command-line argument); ``repr`` shows none of them.
    """

    user: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    nkey_seed_file: str = ""
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    tls_verify_hostname: bool = True

    def options(self) -> dict[str, Any]:
        """The keyword arguments for ``nats.connect`` (no TLS context without a TLS setting)."""
        opts: dict[str, Any] = {}
        if self.user:
            opts["user"], opts["password"] = self.user, self.password
        if self.token:
            opts["token"] = self.token
        if self.nkey_seed_file:
            try:
                import nkeys  # type: ignore[import-not-found]  # noqa: F401  # nats-py signs with it
            except ImportError:
                raise ConfigurationError(
                    "nats_nkey_seed_file needs the nkeys package: pip install 'postex[nkeys]'"
                ) from None
            opts["nkeys_seed"] = self.nkey_seed_file
        if self.tls_ca or self.tls_cert:
            opts["tls"] = self.tls_context()
        return opts

    def tls_context(self) -> ssl.SSLContext:
        try:
            ctx = ssl.create_default_context(cafile=self.tls_ca or None)
            if self.tls_cert:
                ctx.load_cert_chain(self.tls_cert, self.tls_key or None)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"cannot read the NATS TLS files (nats_tls_ca, nats_tls_cert, nats_tls_key): "
                f"{exc.__class__.__name__}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        ctx.check_hostname = self.tls_verify_hostname
        return ctx


@dataclass(frozen=True)
class StreamLimits:
    """How much the replication stream keeps: older or excess messages are discarded
    (sites re-publish on the hub's signed replay request, so nothing is lost)."""

    max_age_s: float = DEFAULT_MAX_AGE_S
    max_bytes: int = DEFAULT_MAX_BYTES


async def _abandon(task: asyncio.Future[None], nc: Client) -> None:
    """Stop a connection attempt and its client, waiting a bounded time for each."""
    task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait({task}, timeout=2)
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(nc.close(), 2)


def _access_problem(exc: BaseException) -> str | None:
    """What to tell the operator if ``exc`` means NATS refused us (not merely down)."""
    text = str(exc).lower()
    if "authorization violation" in text or "authentication" in text:
        return "the server refused the credentials (authorization violation)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the server's TLS certificate was not accepted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"the TLS handshake failed ({exc.reason or exc.__class__.__name__})"
    if "tls" in text and ("required" in text or "handshake" in text):
        return "the server requires TLS: set nats_tls_ca (and a client certificate if asked)"
    return None


def access_error(url: str, problem: str) -> NatsAccessError:
    return NatsAccessError(
        f"cannot use NATS at {_public(url)}: {problem}; check nats_user and "
        "POSTEX_NATS_PASSWORD (or nats_password_file), nats_token, nats_nkey_seed_file and "
        "the nats_tls_* settings (docs/operations.md)"
    )


def _public(url: str) -> str:
    """The URL without any user:password part."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rsplit('@', 1)[-1]}" if sep else url.rsplit("@", 1)[-1]


async def connect(
    url: str, name: str, access: NatsAccess | None = None, *, reconnect: bool = True,
    attempts: int = -1, timeout: float = 2,
) -> Client:  # fmt: skip
    """Connect, reconnecting forever in the background after the first success.

    Raises :class:`NatsAccessError` at once if the server refuses the credentials or the
    TLS handshake fails (retrying cannot help); other failures keep nats-py's retries.
    """
    refused: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def on_error(exc: Exception) -> None:
        problem = _access_problem(exc)
        if problem is not None and not refused.done():
            refused.set_result(problem)

    nc = Client()
    opts = (access or NatsAccess()).options()
    opts.update(
        name=name, allow_reconnect=reconnect, max_reconnect_attempts=attempts,
        reconnect_time_wait=0.5, connect_timeout=timeout, error_cb=on_error,
    )  # fmt: skip
    task: asyncio.Future[None] = asyncio.ensure_future(nc.connect(url, **opts))
    waiting: set[asyncio.Future[Any]] = {task, refused}
    try:
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # cancelled while connecting (a sibling run failed): leave nothing
        await _abandon(task, nc)
        raise
    if refused in done and not task.done():
        await _abandon(task, nc)
        raise access_error(url, refused.result())
    refused.cancel()
    try:
        task.result()
    except Exception as exc:
        problem = _access_problem(exc)
        if problem is not None:
            raise access_error(url, problem) from None
        raise
    return nc


async def ensure_stream(nc: Client, subjects: Subjects, limits: StreamLimits | None = None) -> None:
    """Create the file-backed stream that holds every site's messages, or bring an existing
    one's age and size limits to ``limits`` (discarding the oldest messages beyond them)."""
    limits = limits or StreamLimits()
    js = nc.jetstream()
    config = StreamConfig(
        name=subjects.stream,
        subjects=subjects.stream_subjects,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_S,
        max_age=limits.max_age_s,
        max_bytes=limits.max_bytes,
        discard=DiscardPolicy.OLD,
    )
    try:
        info = await js.stream_info(subjects.stream)
    except NotFoundError:
        await js.add_stream(config)
        return
    have = info.config
    if (have.max_age, have.max_bytes, have.discard) != (
        limits.max_age_s,
        limits.max_bytes,
        DiscardPolicy.OLD,
    ):
        have.max_age, have.max_bytes, have.discard = (
            limits.max_age_s, limits.max_bytes, DiscardPolicy.OLD
        )  # fmt: skip
        await js.update_stream(have)
        log.info("stream %s limits set: max_age %ss, max_bytes %s", subjects.stream,
                 limits.max_age_s, limits.max_bytes)  # fmt: skip


async def ensure_durable(nc: Client, subjects: Subjects, durable: str) -> None:
    """Create the durable pull consumer ``durable`` on the stream unless it exists: every
    message from the start, acknowledged one by one (the hub's and each follower's)."""
    jsm = nc.jsm()
    try:
        await jsm.consumer_info(subjects.stream, durable)
    except NotFoundError:
        await jsm.add_consumer(
            subjects.stream,
            ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=10,
                max_ack_pending=10_000,
            ),
        )


async def close_quietly(nc: Client | None) -> None:
    """Close a connection that may already be gone, within 2 s."""
    if nc is None or nc.is_closed:
        return
    try:
        await asyncio.wait_for(nc.close(), 2)
    except Exception:  # the connection may already be gone
        log.debug("close failed", exc_info=True)


async def delete_stream(url: str, subjects: Subjects, access: NatsAccess | None = None) -> bool:
    nc = await connect(url, "postex-admin", access, reconnect=False)
    try:
        return bool(await nc.jetstream().delete_stream(subjects.stream))
    except NotFoundError:
        return False
    finally:
        await nc.close()


def headers(msg_id: str, **extra: Any) -> dict[str, str]:
    return {"Nats-Msg-Id": msg_id, **{k: str(v) for k, v in extra.items()}}
