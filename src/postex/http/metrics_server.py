"""``/metrics`` for the long-running commands that serve no HTTP of their own:
``postex worker``, ``postex replicate`` and ``postex hub consume`` (``--metrics-port``, or
the ``metrics_port`` setting; 0 is off).

Each such process answers for itself, on its own port: its counters (events it appended,
its chores' rounds and failures), its process metrics and the database gauges it owns
(webhook queue and attempts, replication lag, verification outcome, alarms; the same
:class:`~postex.http.metrics.DatabaseCollector` as ``serve``). It keeps its metrics in
process: a ``PROMETHEUS_MULTIPROC_DIR`` it inherited is dropped before prometheus-client
loads (:func:`own_metrics`), so the directory of ``serve --workers`` never holds, adds up or
deletes another command's files. Access is as for ``serve``'s ``/metrics``: with
``metrics_token`` set, ``Authorization: Bearer <token>``; without, only a loopback client
that came through no proxy. Anyone else gets 404.
"""

from __future__ import annotations

import hmac
import os
import sys
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from postex.bootstrap import Container

LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


def own_metrics() -> None:
    """Keep this process's metrics in memory: call before prometheus-client is imported."""
    if "prometheus_client" not in sys.modules:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def permitted(headers: Mapping[str, str], client: str, token: str) -> bool:
    """Whether a request may read the metrics (``headers`` with lower-case names)."""
    if token:
        given = headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    direct = "x-forwarded-for" not in headers and "forwarded" not in headers
    return direct and client in LOOPBACK


def serve_metrics(c: Container, port: int, host: str = "127.0.0.1") -> Callable[[], None]:
    """Answer ``GET /metrics`` on ``host:port`` in a background thread; returns ``stop``.
    Every other path, and a caller not permitted, gets 404. Nothing is logged per request."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from postex.http import metrics

    c.observe_writes(metrics.StoreMetrics())
    metrics.watch_pool(c.engine)
    registry = metrics.registry_for(c)
    token = c.settings.metrics_token

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            if self.path.split("?", 1)[0] != "/metrics" or not permitted(
                headers, self.client_address[0], token
            ):
                self._answer(404, b"", "text/plain")
                return
            self._answer(200, generate_latest(registry), CONTENT_TYPE_LATEST)

        def _answer(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # paths and addresses stay out of the logs

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="postex-metrics", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop
