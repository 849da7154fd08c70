"""Structured logs: one JSON object a line for the long-running commands (``serve``,
``worker``, ``replicate``, ``hub consume``), readable key=value lines on a terminal.

Every library's standard ``logging`` records go through the same renderer. What is logged
is decided where it is logged (ids, codes, counts, class names; never a request body, a
name, an address, a token or a secret); :func:`scrub` is a last guard that blanks anything
shaped like a credential that slipped into a message anyway.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

FORMATS = ("auto", "json", "console")
# pxk_<key id>_<secret> API keys and staff tokens, and any bearer credential.
_SECRETS = re.compile(r"pxk_[A-Za-z0-9_\-]+|(?i:bearer)\s+[A-Za-z0-9._~+/=\-]+")
# Libraries that log URLs or payloads at INFO (httpx logs each request's URL: a webhook's
# URL may carry its receiver's secret in the query).
QUIET = (
    "httpx",
    "httpcore",
    "uvicorn.access",
    "nats",
    "asyncio",
    "multipart",
    "alembic",
    "sqlalchemy",
)


def scrub(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str) and ("pxk_" in value or "earer" in value):
            event[key] = _SECRETS.sub("[redacted]", value)
    return event


def _name(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """``logger``: the name given to :func:`get` (standard records: their logger's name)."""
    if "logger_name" in event:
        event["logger"] = event.pop("logger_name")
    return event


def _shared() -> list[Any]:
    return [
        _name,
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        scrub,
    ]


def _json(event: Any, **_kw: Any) -> str:
    return orjson.dumps(event, default=str).decode()


class _Stderr:
    """Whatever ``sys.stderr`` is when a line is written (a test runner or a CLI runner may
    swap it, and close the one it swapped in)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


_json_sink: list[Any] = [None]  # the stream, when lines are JSON and INFO is logged
_second: list[Any] = [-1, ""]  # the current second and its ISO text, made once a second


def _utc_now() -> str:
    """Now as structlog's ``TimeStamper(fmt="iso", utc=True)`` writes it
    (``2026-12-05T03:57:32.427071Z``), the date part made once a second."""
    now = time.time()
    second = int(now)
    if second != _second[0]:
        _second[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))]
    return f"{_second[1]}.{int((now - second) * 1_000_000):06d}Z"


def configure(fmt: str = "auto", level: str = "info", stream: Any = None) -> None:
    """Route structlog and standard logging to ``stream`` (stderr) as JSON or console lines.

    ``auto`` is console on a terminal and JSON otherwise (a service manager, a container).
    Postex's own lines (structlog) are rendered straight to the stream, without the
    standard library's records (the request line is on the hot path); other libraries'
    records go through a standard handler with the same processors and renderer.
    """
    out: Any = stream if stream is not None else _Stderr()
    tty = bool(getattr(out, "isatty", lambda: False)())
    console = fmt == "console" or (fmt == "auto" and tty)
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=tty)
        if console
        else structlog.processors.JSONRenderer(serializer=_json)
    )
    number = logging.getLevelName(level.upper())
    _json_sink[0] = None if console or number > logging.INFO else out
    structlog.configure(
        processors=[*_shared(), renderer],
        logger_factory=structlog.WriteLoggerFactory(file=out),
        wrapper_class=structlog.make_filtering_bound_logger(number),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *_shared()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    handler.set_name("postex")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "postex"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(number)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, number))


def info(name: str, event: str, **fields: Any) -> None:
    """``get(name).info(event, **fields)``, written straight to the stream when lines are
    JSON: the same object the processors make (the bound context, ``event``, ``logger``,
    ``level``, an ISO UTC ``timestamp``; scrubbed) for a third of the time. The request
    line of every HTTP request takes this path."""
    out = _json_sink[0]
    if out is None:
        get(name).info(event, **fields)
        return
    fields.update(structlog.contextvars.get_contextvars())
    fields["event"], fields["logger"], fields["level"] = event, name, "info"
    fields["timestamp"] = _utc_now()
    out.write(orjson.dumps(scrub(None, "", fields), default=str).decode() + "\n")
    out.flush()


def get(name: str) -> Any:
    """A structured logger: ``get("postex.http").info("request", route=..., status=...)``."""
    return structlog.get_logger(logger_name=name)
