"""NATS credentials and TLS: replication through a nats-server that demands them, and a
clear one-line error (exit 2) when they are wrong (issue #15, point 5)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from postex.cli.main import app
from tests.conftest import need_service
from tests.factories import new_customer, new_items
from tests.network.conftest import Loops, pair, start_replication, wait_until

pytestmark = pytest.mark.nats
runner = CliRunner()
PASSWORD = "correct-horse-battery"


class ConfiguredNats:
    """A nats-server of this test's own, started from a generated configuration file."""

    def __init__(self, work: Path, extra: str, scheme: str = "nats") -> None:
        binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
        need_service("nats-server", binary if Path(binary).exists() else "", "PATH")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        config = work / "nats.conf"
        config.write_text(
            f'listen: "127.0.0.1:{self.port}"\njetstream {{ store_dir: "{work / "js"}" }}\n{extra}'
        )
        self.proc = subprocess.Popen(
            [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

        def up() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(up, 10, "nats-server to listen")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def password_nats(tmp_path: Path) -> Iterator[ConfiguredNats]:
    server = ConfiguredNats(tmp_path, f'authorization {{ user: postex, password: "{PASSWORD}" }}\n')
    yield server
    server.stop()


def _replicates(tmp_path: Path, url: str, loops: Loops, **access: Any) -> None:
    site, hub = pair(tmp_path, url, "pxa", f"sqlite:///{tmp_path / 'hub.db'}", **access)
    # The hub reads the same secrets: settings of its own, set after pairing.
    from tests.conftest import make_node

    hub.close()
    hub = make_node(
        tmp_path / "hub", f"sqlite:///{tmp_path / 'hub.db'}", site="HUB", role="hub",
        nats_url=url, nats_prefix="pxa", **access,
    )  # fmt: skip
    new_items(site, new_customer(site).record.id, n=4)
    start_replication(loops, site, hub)
    wait_until(lambda: hub.store.head("GBLALA") == site.store.head("GBLALA"), what="a copy")
    loops.close()
    site.close()
    hub.close()


def _replicate_cli(tmp_path: Path, url: str, env: dict[str, str]) -> Any:
    home = tmp_path / "cli-site"
    args = ["replicate", "--site", "GBLALA", "--home", str(home), "--nats", url,
            "--db", f"sqlite:///{tmp_path / 'cli.db'}"]  # fmt: skip
    return runner.invoke(app, args, env={"POSTEX_ROLE": "site", **env})


def test_replication_through_a_server_that_demands_a_password(
    tmp_path: Path, password_nats: ConfiguredNats, loops: Loops
) -> None:
    """The site with its password from the environment's setting, the hub from a file."""
    secret = tmp_path / "nats-password"
    secret.write_text(PASSWORD + "\n")
    _replicates(
        tmp_path, password_nats.url, loops, nats_user="postex", nats_password_file=str(secret)
    )


def test_a_wrong_password_is_one_clear_line_and_exit_2(
    tmp_path: Path, password_nats: ConfiguredNats
) -> None:
    """Not a traceback, not an endless retry, not an integrity failure; no secret shown."""
    wrong = {"POSTEX_NATS_USER": "postex", "POSTEX_NATS_PASSWORD": "not-the-password"}
    result = _replicate_cli(tmp_path, password_nats.url, wrong)
    assert result.exit_code == 2, result.output
    assert "cannot use NATS at" in result.stderr
    assert "the server refused the credentials (authorization violation)" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert "integrity" not in result.stderr
    assert "not-the-password" not in result.output + result.stderr
    none = _replicate_cli(tmp_path, password_nats.url, {})
    assert none.exit_code == 2 and "authorization violation" in none.stderr
    hub = runner.invoke(app, [
        "hub", "consume", "--home", str(tmp_path / "cli-hub"), "--nats", password_nats.url,
        "--db", f"sqlite:///{tmp_path / 'cli-hub.db'}",
    ], env={"POSTEX_ROLE": "hub", **wrong})  # fmt: skip
    assert hub.exit_code == 2, hub.output
    assert "the server refused the credentials" in hub.stderr
    assert "Traceback" not in hub.output + hub.stderr


# --- TLS ------------------------------------------------------------------------------


def _cert(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Name, Any] | None,
    ca: bool = False, ip: str | None = None,
) -> x509.Certificate:  # fmt: skip
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer or (name, key)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(issuer_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )  # fmt: skip
    if ip:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.fixture
def tls_nats(tmp_path: Path) -> Iterator[tuple[ConfiguredNats, Path]]:
    """A server with a certificate from a test CA that also demands client certificates."""
    certs = tmp_path / "certs"
    certs.mkdir()
    for ca_name in ("ca", "other-ca"):
        key = ec.generate_private_key(ec.SECP256R1())
        _write(certs / ca_name, _cert(ca_name, key, None, ca=True), key)
    ca_key = serialization.load_pem_private_key((certs / "ca.key").read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate((certs / "ca.pem").read_bytes())
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    for name, ip in (("server", "127.0.0.1"), ("client", None)):
        key = ec.generate_private_key(ec.SECP256R1())
        _write(certs / name, _cert(name, key, (ca_cert.subject, ca_key), ip=ip), key)
    tls = (
        f'tls {{ cert_file: "{certs / "server.pem"}", key_file: "{certs / "server.key"}", '
        f'ca_file: "{certs / "ca.pem"}", verify: true }}\n'
    )
    server = ConfiguredNats(tmp_path, tls, scheme="tls")
    yield server, certs
    server.stop()


def test_replication_over_tls_with_client_certificates(
    tmp_path: Path, tls_nats: tuple[ConfiguredNats, Path], loops: Loops
) -> None:
    """The server's certificate checked against the CA file, hostname (IP) verified, and
    the client's certificate presented."""
    server, certs = tls_nats
    _replicates(
        tmp_path, server.url, loops, nats_tls_ca=str(certs / "ca.pem"),
        nats_tls_cert=str(certs / "client.pem"), nats_tls_key=str(certs / "client.key"),
    )  # fmt: skip


def test_a_server_certificate_from_another_ca_is_one_clear_line(
    tmp_path: Path, tls_nats: tuple[ConfiguredNats, Path]
) -> None:
    server, certs = tls_nats
    env = {"POSTEX_NATS_TLS_CA": str(certs / "other-ca.pem"),
           "POSTEX_NATS_TLS_CERT": str(certs / "client.pem"),
           "POSTEX_NATS_TLS_KEY": str(certs / "client.key")}  # fmt: skip
    result = _replicate_cli(tmp_path, server.url, env)
    assert result.exit_code == 2, result.output
    assert "the server's TLS certificate was not accepted" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert "integrity" not in result.stderr
    no_client_cert = _replicate_cli(
        tmp_path,
        server.url,
        {"POSTEX_NATS_TLS_CA": env["POSTEX_NATS_TLS_CA"].replace("other-ca", "ca")},
    )
    assert no_client_cert.exit_code == 2
    assert "the TLS handshake failed" in no_client_cert.stderr
