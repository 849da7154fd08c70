"""Structured logs: one JSON object a line for the long-running commands (``serve``,
``worker``, ``replicate``, ``hub consume``), readable key=value lines on a terminal.

Every library's standard ``logging`` records go through the same renderer. What is logged
is decided where it is logged (ids, codes, counts, class names; never a request body, a
name, an address, a token or a secret); :func:`scrub` is a last guard that blanks anything
shaped like a credential that slipped into a message anyway.
"""

from __future__ import annotations

import asyncio
import atexit
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
# Whether request lines are written once per event-loop pass (see request()): only to the
# process's own stderr, i.e. in a served node; a stream given to configure() (a test's)
# gets each line when it is logged.
_grouped: list[bool] = [False]
_pending: list[str] = []  # request lines of this event-loop pass, not written yet
_waiting: list[Any] = [None]  # the event loop that will write them
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
    _write_pending()
    _json_sink[0] = None if console or number > logging.INFO else out
    _grouped[0] = stream is None
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


_heads: dict[tuple[str, str, int], str] = {}  # the start of a route's request lines
_NO_CALLER = ',"caller_kind":null,"caller_id":null'


def _clean(text: str) -> bool:
    return "pxk_" not in text and "earer" not in text  # what scrub looks for


def request(
    method: str, route: str, status: int, seconds: float, caller: tuple[str, str] | None,
    request_id: str,
) -> None:  # fmt: skip
    """The request line of an HTTP request (``postex.http.observe``): what
    ``info("postex.http", "request", method=..., route=..., status=..., duration_ms=...,
    caller_kind=..., caller_id=...)`` writes with ``request_id`` bound, the same keys in the
    same order. When lines are JSON it is written from a template: the part fixed for a
    method, route and status is made once; ids are JSON-escaped; anything scrub would
    change takes the general path."""
    out = _json_sink[0]
    ms = round(seconds * 1000, 2)
    kind, subject = caller if caller else (None, None)
    if (
        out is None
        or not _clean(request_id)
        or (caller is not None and not (_clean(kind or "") and _clean(subject or "")))
    ):
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            info("postex.http", "request", method=method, route=route, status=status,
                 duration_ms=ms, caller_kind=kind, caller_id=subject)  # fmt: skip
        return
    key = (method, route, status)
    head = _heads.get(key)
    if head is None:
        fixed = {"method": method, "route": route, "status": status}
        head = _heads[key] = _json(scrub(None, "", fixed))[:-1] + ',"duration_ms":'
    who = (
        _NO_CALLER
        if caller is None
        else f',"caller_kind":{_json(kind)},"caller_id":{_json(subject)}'
    )
    # request_id is [A-Za-z0-9._-] (observe.request_id): nothing to escape.
    line = (
        f'{head}{ms!r}{who},"request_id":"{request_id}","event":"request",'
        f'"logger":"postex.http","level":"info","timestamp":"{_utc_now()}"}}\n'
    )
    if _grouped[0]:
        # One write (one system call) for the lines of all the requests this pass of the
        # event loop finished, at the start of the next pass: a line waits microseconds,
        # never for later requests, and the process's end writes what is left.
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop here: write it now
            _write_pending()
        else:
            if _pending and _waiting[0] is not loop:  # due in a loop that stopped
                _write_pending()
            if not _pending:
                loop.call_soon(_write_pending)
                _waiting[0] = loop
            _pending.append(line)
            return
    out.write(line)
    out.flush()


def _write_pending() -> None:
    if not _pending:
        return
    text = "".join(_pending)
    _pending.clear()
    out = _json_sink[0]
    if out is None:
        return
    try:
        out.write(text)
        out.flush()
    except (ValueError, OSError):  # a closed log: not the requests'
        pass


atexit.register(_write_pending)


def get(name: str) -> Any:
    """A structured logger: ``get("postex.http").info("request", route=..., status=...)``."""
    return structlog.get_logger(logger_name=name)
