"""Webhook targets (issue 15 part 6): every numeric spelling of a private address is refused
at registration; the sender resolves once and dials the address it checked (no DNS
rebinding window); customers see coarse outcomes only (no port-scan oracle)."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from postex.bootstrap import Container
from postex.eventlog.chain import format_time
from postex.eventlog.sql.admin import execute_raw
from postex.tracking.app.webhooks import deliver_due, is_private_host
from postex.tracking.events import WebhookDeliveryAttempted
from postex.tracking.webhook_sender import HttpWebhookSender
from tests.factories import new_customer, new_items
from tests.tracking.conftest import Receiver, auth

PRIVATE_SPELLINGS = [
    "http://2130706433/x",
    "http://0x7f000001/x",
    "http://127.1/x",
    "http://0177.0.0.1/x",
    "http://0x7f.1/x",
    "http://017700000001/x",
    "http://127.0.0.1./x",
    "http://0/x",
    "http://167772161/x",  # 10.0.0.1
    "http://0xa9fea9fe/latest/meta-data",  # 169.254.169.254
    "http://[::1]/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://[::ffff:7f00:1]/x",
    "http://[0:0:0:0:0:0:0:1]/x",
    "http://[64:ff9b::a00:1]/x",  # NAT64 of 10.0.0.1
    "http://[2002:7f00:1::]/x",  # 6to4 of 127.0.0.1
    "http://LOCALHOST./x",
]


@pytest.mark.node(webhook_allow_private=False)
@pytest.mark.parametrize("url", PRIVATE_SPELLINGS)
def test_every_numeric_spelling_of_a_private_address_is_refused_at_registration(
    node: Container, client: TestClient, url: str
) -> None:
    c = new_customer(node)
    r = client.post("/api/v1/webhooks", json={"url": url}, headers=auth(c.api_key))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert (problem["field"], problem["rule"], problem["value"]) == ("url", "private_target", url)
    listed = client.get("/api/v1/webhooks", headers=auth(c.api_key)).json()
    assert listed["webhooks"] == []


@pytest.mark.parametrize(
    "host", ["example.com", "8.8.8.8", "134744072", "0x08080808", "[2606:4700::1111]", "1.2.3.4.5"]
)
def test_public_hosts_and_names_pass_the_registration_check(host: str) -> None:
    assert not is_private_host(host)


def test_a_host_spelled_with_percent_escapes_is_refused() -> None:
    from postex.kernel.errors import ValidationError
    from postex.tracking.app.webhooks import check_url

    with pytest.raises(ValidationError):
        check_url("http://%31%32%37.0.0.1/x", allow_private=False)


# --- the sender: one lookup, the checked address dialled ---------------------------------
@pytest.fixture
def listener() -> Iterator[tuple[int, list[dict[str, str]]]]:
    """A local HTTP server recording each request's headers."""
    seen: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append(dict(self.headers.items()))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_name_rebinding_to_loopback_after_the_check_never_reaches_a_local_listener(
    listener: tuple[int, list[dict[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resolver answers a public address first and 127.0.0.1 to every later lookup
    (what a rebinding DNS server does with a zero TTL): the local listener gets nothing."""
    port, seen = listener
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            ipaddress.ip_address(str(host))
            return real(host, *args, **kwargs)  # numeric: no DNS involved
        except ValueError:
            pass
        lookups.append(str(host))
        answer = "93.184.216.34" if len(lookups) == 1 else "127.0.0.1"  # public, then local
        return real(answer, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    sender = HttpWebhookSender(allow_private=False, timeout=0.5)
    try:
        outcome = sender.post(f"http://rebind.example:{port}/hook", b"{}", {})
    finally:
        sender.close()
    assert seen == []
    assert lookups == ["rebind.example"]  # resolved once
    assert outcome.status is None and outcome.error == "unreachable"


def test_every_resolved_address_is_checked_with_the_injected_resolver(
    listener: tuple[int, list[dict[str, str]]],
) -> None:
    """One private answer among public ones refuses the name; the resolver is asked once."""
    port, seen = listener
    asked: list[tuple[str, int]] = []

    def mixed(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["93.184.216.34", "127.0.0.1"]

    sender = HttpWebhookSender(allow_private=False, timeout=0.5, resolver=mixed)
    try:
        assert sender.post(f"http://mixed.example:{port}/x", b"{}", {}).error == "private_target"
    finally:
        sender.close()
    assert asked == [("mixed.example", port)] and seen == []


def test_the_checked_address_is_dialled_with_the_original_host_header(
    listener: tuple[int, list[dict[str, str]]],
) -> None:
    port, seen = listener
    calls: list[str] = []

    def local(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    sender = HttpWebhookSender(allow_private=True, resolver=local)
    try:
        outcome = sender.post(f"http://hooks.example:{port}/x", b"{}", {"X-Test": "1"})
    finally:
        sender.close()
    assert outcome.status == 200 and calls == ["hooks.example"]
    [headers] = seen
    assert headers["Host"] == f"hooks.example:{port}" and headers["X-Test"] == "1"


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_to_the_checked_address_sends_sni_and_verifies_the_host_name(
    listener: tuple[int, list[dict[str, str]]], tmp_path: Path
) -> None:
    """TLS to the pinned IP still names and verifies the URL's host (SNI, certificate)."""
    cert, key = _certificate(tmp_path, "hooks.example")
    server_names: list[str | None] = []
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(cert, key)

    def note(_sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
        server_names.append(name)

    served.sni_callback = note

    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = served.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    trusted = ssl.create_default_context(cafile=str(cert))
    try:
        good = HttpWebhookSender(True, resolver=lambda h, p: ["127.0.0.1"], verify=trusted)
        outcome = good.post(f"https://hooks.example:{port}/x", b"{}", {})
        good.close()
        assert outcome.status == 204, outcome
        assert server_names == ["hooks.example"] and seen == [f"hooks.example:{port}"]
        wrong = HttpWebhookSender(True, resolver=lambda h, p: ["127.0.0.1"], verify=trusted)
        refused = wrong.post(f"https://other.example:{port}/x", b"{}", {})  # not the cert's
        wrong.close()
        assert (refused.status, refused.error) == (None, "unreachable")
        assert len(seen) == 1
    finally:
        server.shutdown()
        server.server_close()


# --- what the customer sees ---------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_customers_see_coarse_outcomes_without_error_classes_or_failure_timings(
    node: Container, client: TestClient, receiver: Receiver
) -> None:
    """A refused connection is ``failed: could not connect``, no exception class and no
    duration, in the API and the portal; an older log's exception class is shown the same."""
    c = new_customer(node)
    url = f"http://127.0.0.1:{_closed_port()}/hook"
    made = client.post("/api/v1/webhooks", json={"url": url}, headers=auth(c.api_key))
    hook = made.json()["id"]
    new_items(node, c.record.id)
    assert deliver_due(node.ctx, node.webhook_sender_factory(True)) == 1
    [d] = client.get(f"/api/v1/webhooks/{hook}/deliveries", headers=auth(c.api_key)).json()[
        "deliveries"
    ]
    assert (d["last_error"], d["last_outcome"]) == ("unreachable", "failed: could not connect")
    recorded = execute_raw(node.engine, "SELECT error, duration_ms FROM webhook_attempts")
    assert [row[0] for row in recorded] == ["unreachable"]  # no exception class is stored
    with node.ctx.store.write(node.ctx.site) as uow:  # as an older version recorded it
        uow.append([WebhookDeliveryAttempted(
            delivery_id=d["id"], subscription_id=hook, attempt=2,
            at=format_time(node.ctx.clock.now()), ok=False, status=None,
            error="ConnectTimeout", state="pending",
            next_attempt_at=format_time(node.ctx.clock.now()), duration_ms=10012,
        )])  # fmt: skip
    body = client.get(f"/api/v1/webhooks/{hook}/deliveries/{d['id']}", headers=auth(c.api_key))
    attempts = body.json()["attempts"]
    assert [(a["error"], a["outcome"], a["duration_ms"]) for a in attempts] == [
        ("unreachable", "failed: could not connect", None),
        ("unreachable", "failed: could not connect", None),
    ]
    text = body.text
    for leak in ("ConnectError", "ConnectTimeout", "10012", "Errno", "refused"):
        assert leak not in text


def test_a_refused_address_falls_back_to_the_next_checked_one(
    listener: tuple[int, list[dict[str, str]]],
) -> None:
    """Two addresses from one lookup: the first refuses (nothing listens on 127.0.0.2), the
    second answers; still one lookup."""
    port, seen = listener
    calls: list[str] = []

    def two(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.2", "127.0.0.1"]

    sender = HttpWebhookSender(allow_private=True, resolver=two)
    try:
        assert sender.post(f"http://two.example:{port}/x", b"{}", {}).status == 200
    finally:
        sender.close()
    assert calls == ["two.example"] and len(seen) == 1
