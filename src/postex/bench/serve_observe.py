"""What a request's metrics and log line cost, in process: ``python -m postex.bench.serve_observe``.

``postex bench serve`` measures the served node over HTTP with wrk, where a few µs are lost
in the noise of a shared machine. This measures the same ASGI app in one process, without
sockets: a cached public tracking answer (``postex.http.answers``) requested again and again,
with metrics and the request log on and off, and the :class:`~postex.http.observe.Observe`
middleware alone around an app that answers at once. The request log is the process's
stderr, redirected to a file (as the served node's goes to a journal), so its lines are
buffered and written as ``postex serve`` writes them (``postex.logs.request``); each request
is followed by a pass of the event loop, as served with few connections. The cases
alternate (ABAB…) and each reports the best of ``--repeat`` batches of CPU time per request
(the least disturbed by other processes).

With ``--callgrind CASE`` (``on``, ``off``, ``metrics``, ``log``) it runs only ``Observe``
around the instant app, ``--requests`` times, with callgrind's instrumentation switched on
for those requests alone (run it under ``valgrind --tool=callgrind --instr-atstart=no``);
the difference of two runs of different lengths, divided by the difference of their
requests, is the instructions per request, which the machine's load does not change.

Example: python -m postex.bench.serve_observe --requests 2000 --repeat 15
Example: valgrind --tool=callgrind --instr-atstart=no python -m postex.bench.serve_observe
         --callgrind on --requests 2500
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from starlette.types import Message, Receive, Scope, Send

from postex import logs
from postex.bench.tracking import _item_id, seed
from postex.bootstrap import build
from postex.config import load_settings
from postex.http.observe import Observe
from postex.server import create_app

Call = Callable[[Scope, Receive, Send], Coroutine[Any, Any, None]]


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(_message: Message) -> None:
    return None


def _scope(path: str) -> Scope:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip


async def _batch(app: Call, path: str, n: int) -> float:
    """CPU seconds per request of ``n`` requests of ``path``, each followed by a pass of
    the event loop (as served with few connections: a pass or two per request)."""
    started = time.process_time()
    for _ in range(n):
        await app(_scope(path), _receive, _send)
        await asyncio.sleep(0)
    return (time.process_time() - started) / n


async def _instant(scope: Scope, _receive: Receive, send: Send) -> None:
    scope["route"] = _ROUTE
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


class _Route:
    path = "/api/v1/tracking/{tracking_number}"


_ROUTE = _Route()


def _log_to(path: Path) -> TextIO:
    """The process's stderr, now a file: request lines are buffered as in a served node."""
    log = path.open("a", encoding="utf-8")
    sys.stderr = log
    logs.configure("json", "info")
    return log


def run(requests: int, repeat: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="postex-bench-observe-"))
    settings = load_settings(db_url=f"sqlite:///{work / 'bench.db'}", home=str(work),
                             public_rate=10**9, public_burst=10**9)  # fmt: skip
    c = build(settings, create=True)
    seed(c, 10)
    log = _log_to(work / "serve.log")
    on = create_app(c)
    c.settings = replace(settings, metrics=False, request_log=False)
    off = create_app(c)
    c.settings = settings
    path = f"/api/v1/tracking/{_item_id(3)}"
    cases: dict[str, Call] = {
        "app, metrics+logs on": on,
        "app, metrics+logs off": off,
        "Observe alone, on": Observe(_instant),
        "Observe alone, off": Observe(_instant, with_metrics=False, with_log=False),
        "no middleware": _instant,
    }
    best = dict.fromkeys(cases, float("inf"))

    async def main() -> None:
        for app in cases.values():
            await _batch(app, path, 50)  # the answer cache fills; every branch is warm
        for _ in range(repeat):
            for name, app in cases.items():
                best[name] = min(best[name], await _batch(app, path, requests))

    asyncio.run(main())
    c.close()
    logs.flush()
    sys.stderr = sys.__stderr__
    log.close()
    return best


CALLGRIND = {"on": (True, True), "off": (False, False), "metrics": (True, False),
             "log": (False, True)}  # fmt: skip


def under_callgrind(case: str, requests: int) -> None:
    """``Observe`` around the instant app, instrumented for ``requests`` requests only."""
    with_metrics, with_log = CALLGRIND[case]
    work = Path(tempfile.mkdtemp(prefix="postex-bench-observe-"))
    with _log_to(work / "serve.log"):
        app = Observe(_instant, with_metrics=with_metrics, with_log=with_log)
        pid = str(os.getpid())

        def instrument(state: str) -> None:  # callgrind_control: valgrind's own tool
            subprocess.run(["callgrind_control", "-i", state, pid],  # noqa: S603, S607
                           check=False, capture_output=True)  # fmt: skip

        async def main() -> None:
            await _batch(app, "/x", 200)  # every branch warm, every cache made
            instrument("on")
            await _batch(app, "/x", requests)
            instrument("off")

        asyncio.run(main())
        logs.flush()
        sys.stderr = sys.__stderr__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per batch")
    parser.add_argument("--repeat", type=int, default=15, help="batches per case")
    parser.add_argument("--callgrind", choices=sorted(CALLGRIND), help="one case, instrumented")
    args = parser.parse_args()
    if args.callgrind:
        under_callgrind(args.callgrind, args.requests)
        return
    best = run(args.requests, args.repeat)
    for name, seconds in best.items():
        print(f"{name:28} {seconds * 1e6:7.2f} µs CPU per request")
    app = (best["app, metrics+logs on"] - best["app, metrics+logs off"]) * 1e6
    alone = (best["Observe alone, on"] - best["Observe alone, off"]) * 1e6
    print(f"metrics + log line: {app:.2f} µs in the app, {alone:.2f} µs around an instant app")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
