"""Traces: off by default (nothing of OpenTelemetry imported); when asked for, FastAPI,
SQLAlchemy and httpx spans, here caught by an in-memory exporter."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from postex.bootstrap import Container
from postex.http import tracing
from postex.server import create_app
from postex.tracking.app.webhooks import deliver_due
from tests.factories import new_customer, new_items
from tests.tracking.conftest import Receiver, auth


@pytest.fixture
def traced(node: Container) -> Iterator[tuple[FastAPI, InMemorySpanExporter]]:
    app = create_app(node)
    exporter = InMemorySpanExporter()
    assert tracing.install(app, node.engine, exporter) is not None
    yield app, exporter
    tracing.uninstall(app)


def test_requests_queries_and_outgoing_calls_are_spans(
    node: Container, traced: tuple[FastAPI, InMemorySpanExporter]
) -> None:
    app, exporter = traced
    [item] = new_items(node, new_customer(node).record.id)
    with TestClient(app) as client:  # TestClient is an httpx client: its calls are spans too
        assert client.get(f"/api/v1/tracking/{item.id}").status_code == 200
        assert client.get("/healthz").status_code == 200
    spans = exporter.get_finished_spans()
    server = [s for s in spans if s.kind is SpanKind.SERVER]
    assert [s.name for s in server] == ["GET /api/v1/tracking/{item_id}"]  # probes: none
    database = [s for s in spans if any(k.startswith("db.") for k in s.attributes or {})]
    in_request = [q for q in database if q.context.trace_id == server[0].context.trace_id]
    assert in_request, "the lookup's queries are spans of the request's trace"
    assert not [q for q in database if item.id in str(q.attributes)]  # placeholders only


@pytest.mark.node(webhook_allow_private=True)
def test_webhook_deliveries_are_client_spans(
    node: Container, traced: tuple[FastAPI, InMemorySpanExporter], receiver: Receiver
) -> None:
    app, exporter = traced
    customer = new_customer(node)
    with TestClient(app) as client:
        hook = {"url": receiver.url}
        r = client.post("/api/v1/webhooks", json=hook, headers=auth(customer.api_key))
        assert r.status_code == 201, r.text
    new_items(node, customer.record.id)
    assert deliver_due(node.ctx, node.webhook_sender_factory(True)) == 1
    client_spans = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert [s.name for s in client_spans if s.name in ("POST", "GET")] == ["POST"]


def test_tracing_is_off_without_an_endpoint_and_imports_nothing(tmp_path: Path) -> None:
    """No SDK, exporter or instrumentation is loaded (FastAPI itself imports the small
    opentelemetry API package when it is installed)."""
    code = (
        "import sys\n"
        "from postex.bootstrap import build\n"
        "from postex.config import load_settings\n"
        "from postex.server import create_app\n"
        f"c = build(load_settings(home={str(tmp_path)!r}), create=True)\n"
        "create_app(c)\n"
        "heavy = ('opentelemetry.sdk', 'opentelemetry.instrumentation', 'opentelemetry.exporter')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
