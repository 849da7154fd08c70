"""/readyz: ready only when the database, schema and keys are, and NATS on a hub (a site
without NATS is degraded but ready: it keeps working); no internals to the public."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from postex.bootstrap import Container
from postex.http import health
from postex.server import create_app
from tests.conftest import make_node

PUBLIC = ("203.0.113.9", 5000)


def test_a_ready_node_tells_the_public_only_that(node: Container) -> None:
    with TestClient(create_app(node), client=PUBLIC) as public:
        r = public.get("/readyz")
    assert (r.status_code, r.json()) == (200, {"status": "ready"})
    with TestClient(create_app(node)) as local:
        detail = local.get("/readyz").json()
    assert detail["checks"] == {"database": "ok", "migrations": "ok", "kek": "ok"}


def test_healthz_stays_liveness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_an_unreadable_kek_makes_the_node_unready(node: Container) -> None:
    path = node.kek.path
    assert path is not None
    hidden = path.with_suffix(".away")
    path.rename(hidden)
    try:
        with TestClient(create_app(node), client=PUBLIC) as public:
            r = public.get("/readyz")
        assert (r.status_code, r.json()) == (503, {"status": "unavailable"})
        with TestClient(create_app(node)) as local:
            assert local.get("/readyz").json()["checks"]["kek"] == "failed"
    finally:
        hidden.rename(path)


def test_a_schema_behind_the_migrations_is_unready(node: Container) -> None:
    with node.engine.begin() as conn:
        heads = [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
        conn.execute(text("DELETE FROM alembic_version WHERE version_num <> :v"), {"v": heads[0]})
    try:
        with TestClient(create_app(node)) as local:
            r = local.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["migrations"] == "failed"
    finally:  # the PostgreSQL database outlives the test: put the heads back
        with node.engine.begin() as conn:
            conn.execute(text("DELETE FROM alembic_version"))
            for head in heads:
                conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": head})
    with TestClient(create_app(node)) as local:
        assert local.get("/readyz").status_code == 200


@pytest.fixture
def fake_nats() -> Iterator[int]:
    """A socket that greets like a NATS server."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(b'INFO {"server_id":"x"}\r\n')
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


@pytest.mark.sqlite_only
def test_a_site_checks_nats(
    tmp_path: Path, sqlite_url: str, fake_nats: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = make_node(tmp_path / "home", sqlite_url, role="site",
                  nats_url=f"nats://127.0.0.1:{fake_nats}")  # fmt: skip
    try:
        assert health.readiness(c)["nats"] == "ok"
        monkeypatch.setattr(c, "settings", c.settings.__class__(**{
            **c.settings.__dict__, "nats_url": "nats://127.0.0.1:1"}))  # fmt: skip
        assert health.readiness(c)["nats"] == "failed"
    finally:
        c.close()


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("role", "code", "local"), [("site", 200, "degraded"),
                                                     ("hub", 503, "unavailable")])  # fmt: skip
def test_without_nats_a_site_is_degraded_and_a_hub_unavailable(
    tmp_path: Path, sqlite_url: str, role: str, code: int, local: str
) -> None:
    c = make_node(tmp_path / "home", sqlite_url, role=role, nats_url="nats://127.0.0.1:1")
    try:
        app = create_app(c)
        with TestClient(app, client=PUBLIC) as public:
            r = public.get("/readyz")
        public_status = "ready" if code == 200 else "unavailable"
        assert (r.status_code, r.json()) == (code, {"status": public_status})
        with TestClient(app) as loopback:
            detail = loopback.get("/readyz")
        assert detail.status_code == code
        assert detail.json()["status"] == local and detail.json()["checks"]["nats"] == "failed"
    finally:
        c.close()
