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
import os
import re
import select
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
# Whether request lines are buffered (see request()): only to the process's own stderr,
# i.e. in a served node; a stream given to configure() (a test's) gets each line when it
# is logged.
_grouped: list[bool] = [False]
# A request's line is kept as its fields and written within FLUSH_SECONDS, with the lines
# of the requests answered meanwhile (docs/monitoring.md "Logs"): the request's path only
# appends a tuple; the lines are made together, when they are written, at most
# MAX_WAITING at a time, in writes of at most FLUSH_BYTES of whole lines. A write of at
# most PIPE_BUF bytes to a pipe is atomic: the lines of several workers sharing one stderr
# pipe never cut into each other.
FLUSH_SECONDS = 0.1
FLUSH_BYTES = select.PIPE_BUF
MAX_WAITING = 256
Record = tuple[str, str, int, float, "tuple[str, str] | None", str, float]
_pending: list[Record] = []  # request lines not written yet, as request()'s arguments
_due = [0.0]  # time.time() by which the timer should have run
_timer: list[Any] = [None]  # the event loop's timer that writes them when no request does


def _forget_in_child() -> None:
    """A forked child does not write its parent's lines (the parent does)."""
    _pending.clear()
    _timer[0] = None


os.register_at_fork(after_in_child=_forget_in_child)
_second: list[Any] = [-1, ""]  # the current second and its ISO text, made once a second


def _utc_now(now: float | None = None) -> str:
    """``now`` (a ``time.time()``) as structlog's ``TimeStamper(fmt="iso", utc=True)``
    writes it (``2026-12-05T03:57:32.427071Z``), the date part made once a second."""
    if now is None:
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
    flush()
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
    ``level``, an ISO UTC ``timestamp``; scrubbed) for a third of the time."""
    out = _json_sink[0]
    if out is None:
        get(name).info(event, **fields)
        return
    if _pending:  # the request lines before it come first
        _write_pending()
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
    same order (:func:`_line`). To the process's stderr it is kept and written with others
    (see :data:`FLUSH_SECONDS`); to any other stream, at once."""
    now = time.time()
    if _json_sink[0] is None:  # console lines (or INFO not logged): the general path
        kind, subject = caller if caller is not None else (None, None)
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            info("postex.http", "request", method=method, route=route, status=status,
                 duration_ms=round(seconds * 100_000) / 100, caller_kind=kind,
                 caller_id=subject)  # fmt: skip
        return
    if not _grouped[0]:
        _write_now(_line((method, route, status, seconds, caller, request_id, now)))
        return
    _pending.append((method, route, status, seconds, caller, request_id, now))
    if len(_pending) < MAX_WAITING and now < _due[0] and _timer[0] is not None:
        return  # the usual case: a timer is due later and there is room
    _buffer(now)


def _write_now(line: str) -> None:
    out = _json_sink[0]
    if _pending:  # the request lines before it come first
        _write_pending()
    out.write(line)
    out.flush()


def _general(record: Record) -> str:
    """The line of a request whose ids scrub would change, as :func:`info` makes it."""
    method, route, status, seconds, caller, request_id, now = record
    kind, subject = caller if caller is not None else (None, None)
    fields = {"method": method, "route": route, "status": status,
              "duration_ms": round(seconds * 100_000) / 100, "caller_kind": kind,
              "caller_id": subject, "request_id": request_id, "event": "request",
              "logger": "postex.http", "level": "info", "timestamp": _utc_now(now)}  # fmt: skip
    return _json(scrub(None, "", fields)) + "\n"


def _line(record: Record) -> str:
    """One request line, from a template: the part fixed for a method, route and status is
    made once; ids are JSON-escaped; anything scrub would change takes :func:`_general`."""
    method, route, status, seconds, caller, request_id, now = record
    if caller is None:
        who = _NO_CALLER
        if "pxk_" in request_id or "earer" in request_id:  # what scrub seeks
            return _general(record)
    else:
        kind, subject = caller
        if not (_clean(request_id) and _clean(kind or "") and _clean(subject or "")):
            return _general(record)
        who = f',"caller_kind":{_json(kind)},"caller_id":{_json(subject)}'
    head = _heads.get((method, route, status))
    if head is None:
        fixed = {"method": method, "route": route, "status": status}
        head = _heads[method, route, status] = (
            _json(scrub(None, "", fixed))[:-1] + ',"duration_ms":'
        )
    second = int(now)
    if second != _second[0]:
        _second[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))]
    # repr(ms) made from the integer, without float formatting (the same text: ms is the
    # double nearest hundredths / 100, whose shortest repr is that decimal).
    whole, cents = divmod(round(seconds * 100_000), 100)  # the duration in ms, 2 decimals
    duration = (
        f"{whole}.{cents // 10}"
        if cents % 10 == 0
        else f"{whole}.{cents}"
        if cents >= 10
        else f"{whole}.0{cents}"
    )
    micros = str(int((now - second) * 1_000_000) + 1_000_000)[1:]  # six digits
    # request_id is [A-Za-z0-9._-] (observe.request_id): nothing to escape.
    return (
        f'{head}{duration}{who},"request_id":"{request_id}","event":"request",'
        f'"logger":"postex.http","level":"info","timestamp":"{_second[1]}.{micros}Z"}}\n'
    )


def _buffer(now: float) -> None:
    """Lines kept for a write of several; a timer on the event loop writes them within
    FLUSH_SECONDS when no later request does, the server's shutdown (:func:`flush`) and
    the process's exit write what is left."""
    if len(_pending) >= MAX_WAITING:
        _write_pending()
    timer = _timer[0]
    if timer is not None and now < _due[0]:
        return
    if timer is not None:  # due and not run: its event loop has stopped (or is stuck)
        flush()
        return
    try:
        loop = asyncio.get_running_loop()  # once per timer (a getpid system call)
    except RuntimeError:  # no event loop here: write it now
        _write_pending()
        return
    _due[0] = now + FLUSH_SECONDS
    _timer[0] = loop.call_later(FLUSH_SECONDS, _on_timer)


def _on_timer() -> None:
    _timer[0] = None
    _write_pending()


def flush() -> None:
    """Write the request lines still waiting (the server's shutdown, a worker's exit)."""
    timer, _timer[0] = _timer[0], None
    if timer is not None:
        timer.cancel()
    _write_pending()


def _write_pending() -> None:
    """The lines waiting, made now and written in order, whole lines at most FLUSH_BYTES
    a write."""
    if not _pending:
        return
    records = _pending[:]
    _pending.clear()
    out = _json_sink[0]
    if out is None:
        return
    chunk: list[str] = []
    size = 0
    try:
        for record in records:
            line = _line(record)
            n = len(line) if line.isascii() else len(line.encode())
            if size + n > FLUSH_BYTES and chunk:
                out.write("".join(chunk))
                out.flush()
                chunk, size = [], 0
            chunk.append(line)
            size += n
        out.write("".join(chunk))
        out.flush()
    except (ValueError, OSError):  # a closed log: not the requests'
        pass


atexit.register(flush)


def get(name: str) -> Any:
    """A structured logger: ``get("postex.http").info("request", route=..., status=...)``."""
    return structlog.get_logger(logger_name=name)
