"""The node's NATS credentials, TLS files and stream limits, from its settings.

Secrets are read here from the environment (through the settings) or from a file, so no
secret ever needs to be a command-line argument (visible in ``ps``).
"""

from __future__ import annotations

from pathlib import Path

from postex.config import Settings
from postex.kernel.errors import ConfigurationError
from postex.network.nats.jetstream import NatsAccess, StreamLimits


def _secret(value: str, file: str, name: str) -> str:
    if value and file:
        raise ConfigurationError(f"set {name} or {name}_file, not both")
    if not file:
        return value
    try:
        return Path(file).read_text().strip()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {name}_file: {exc.strerror}") from None


def access_from(s: Settings) -> NatsAccess:
    """How this node's NATS clients authenticate; ConfigurationError if it is inconsistent."""
    password = _secret(s.nats_password, s.nats_password_file, "nats_password")
    token = _secret(s.nats_token, s.nats_token_file, "nats_token")
    if password and not s.nats_user:
        raise ConfigurationError("a NATS password needs nats_user")
    if token and s.nats_user:
        raise ConfigurationError("set nats_user/nats_password or nats_token, not both")
    if s.nats_tls_key and not s.nats_tls_cert:
        raise ConfigurationError("nats_tls_key needs nats_tls_cert")
    return NatsAccess(
        s.nats_user, password, token, s.nats_nkey_seed_file, s.nats_tls_ca, s.nats_tls_cert,
        s.nats_tls_key, s.nats_tls_verify_hostname,
    )  # fmt: skip


def limits_from(s: Settings) -> StreamLimits:
    return StreamLimits(s.nats_stream_max_age_days * 86_400, s.nats_stream_max_bytes)
