"""Liveness and readiness for the infrastructure.

``/healthz`` is liveness: the process answers. ``/readyz`` is readiness: the database
answers, its schema is at the migrations' head, the key-encryption key is readable and,
on a site or hub with a NATS URL, NATS accepts a connection.

NATS is what a hub is for: a hub without it is unavailable (503). A site without it is
**degraded** but still ready (200): cut off from the network it keeps accepting, bagging
and despatching what it knows (docs/operations.md, "Cut off"), and a load balancer
that took it out would stop the very work the site can still do. The public sees only
``{"status": "ready"}`` or ``{"status": "unavailable"}`` (503); the status ``degraded``
and the checks by name are shown to the same callers as ``/metrics`` (the
``metrics_token``, or a direct loopback client), and a failing check is always logged by
name.
"""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from postex import logs
from postex.bootstrap import Container
from postex.http.deps import container
from postex.http.metrics import allowed

router = APIRouter(tags=["infra"])
log = logs.get("postex.readiness")
NATS_TIMEOUT = 1.0


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@functools.cache
def migration_heads() -> frozenset[str]:
    """The revisions the shipped migrations end at (read once: they do not change)."""
    from alembic.script import ScriptDirectory

    from postex.eventlog.sql.migrate import alembic_config

    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def _database(c: Container) -> None:
    c.store.head(c.settings.site)


def _migrations(c: Container) -> None:
    from alembic.runtime.migration import MigrationContext

    with c.engine.connect() as conn:
        current = frozenset(MigrationContext.configure(conn).get_current_heads())
    if current != migration_heads():
        raise RuntimeError("schema not at the migrations' head")


def _kek(c: Container) -> None:
    path = c.kek.path
    if path is not None:
        with path.open("rb") as f:  # readable now, not only when the node started
            f.read(1)
    c.kek.active()


def _nats(c: Container) -> None:
    """A TCP connection to the first NATS server that answers with its INFO line."""
    for url in c.settings.nats_url.split(","):
        parts = urlsplit(url.strip() if "://" in url else f"nats://{url.strip()}")
        try:
            with socket.create_connection(
                (parts.hostname or "127.0.0.1", parts.port or 4222), timeout=NATS_TIMEOUT
            ) as s:
                if s.recv(4) == b"INFO":
                    return
        except OSError:
            continue
    raise RuntimeError("no NATS server answered")


def checks(c: Container) -> dict[str, Callable[[Container], None]]:
    todo: dict[str, Callable[[Container], None]] = {
        "database": _database, "migrations": _migrations, "kek": _kek,
    }  # fmt: skip
    if c.settings.role in ("site", "hub") and c.settings.nats_url:
        todo["nats"] = _nats
    return todo


def readiness(c: Container) -> dict[str, str]:
    """Each check's outcome: "ok" or "failed" (the reason goes to the log, by class)."""
    out: dict[str, str] = {}
    for name, check in checks(c).items():
        try:
            check(c)
            out[name] = "ok"
        except Exception as exc:  # any failure means not ready
            out[name] = "failed"
            log.warning("not ready", check=name, error=type(exc).__name__)
    return out


def degrading(c: Container) -> frozenset[str]:
    """The checks whose failure leaves this node ready but degraded: NATS on a site."""
    return frozenset({"nats"}) if c.settings.role == "site" else frozenset()


@router.get("/readyz", summary="Readiness: database, schema, keys and NATS answer")
def readyz(request: Request, c: Container = Depends(container)) -> Any:
    results = readiness(c)
    failed = {name for name, outcome in results.items() if outcome != "ok"}
    ready = failed <= degrading(c)
    body: dict[str, Any] = {"status": "ready" if ready else "unavailable"}
    if allowed(request, c.settings.metrics_token):
        status = "degraded" if ready and failed else body["status"]
        body.update(status=status, checks=results, site=c.settings.site, role=c.settings.role)
    return JSONResponse(body, status_code=200 if ready else 503)
