"""Configuration: the one place that reads ``POSTEX_*`` variables and ``postex.toml``.

Precedence: explicit overrides (CLI flags) > environment > ``postex.toml`` > defaults.
The file is ``$POSTEX_CONFIG`` or ``./postex.toml``; its keys are the field names below.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from postex.kernel.errors import ConfigurationError

ROLES = ("single", "site", "hub")
RATE_SCOPES = ("auto", "shared", "process")
LOG_FORMATS = ("auto", "json", "console")


@dataclass(frozen=True)
class Settings:
    home: Path = Path("var")
    db_url: str = ""  # default: sqlite:///<home>/postex.db
    site: str = "GBLALA"  # the IMPC code of this node's site (Heathrow WDC by default)
    role: str = "single"
    keys_dir: Path = Path()  # default: <home>/keys
    nats_url: str = ""
    nats_prefix: str = "postex"  # subjects <prefix>.events.<SITE>; stream <PREFIX>_LOG
    # NATS credentials and TLS, for every NATS client of the node (docs/operations.md).
    # Secrets come from the environment (POSTEX_NATS_PASSWORD, POSTEX_NATS_TOKEN) or a file
    # (nats_password_file, nats_token_file), never from a command-line argument.
    nats_user: str = ""
    nats_password: str = field(default="", repr=False)
    nats_password_file: str = ""
    nats_token: str = field(default="", repr=False)
    nats_token_file: str = ""
    nats_nkey_seed_file: str = ""  # an nkey seed file (needs the nkeys package)
    nats_tls_ca: str = ""  # CA file the server's certificate must chain to
    nats_tls_cert: str = ""  # client certificate (when the server verifies clients)
    nats_tls_key: str = ""
    nats_tls_verify_hostname: bool = True
    # The replication stream's limits, set on creation and on every start (discard old).
    nats_stream_max_age_days: int = 14
    nats_stream_max_bytes: int = 2 * 1024**3
    # A site re-publishes its log at most once per this many seconds per requester.
    replay_interval_seconds: int = 5
    host: str = "127.0.0.1"
    port: int = 8000
    country: str = "GB"
    checkpoint_every: int = 1000
    checkpoint_seconds: int = 60
    hub_url: str = ""
    weight_tolerance_pct: int = 10  # acceptance: measured vs declared weight, percent
    receptacle_limit_g: int = 30000  # contents of one receptacle (a 30 kg bag)
    public_rate: int = 50  # public tracking requests per second per client address
    public_burst: int = 200
    webhook_allow_private: bool = False  # let webhooks reach private/loopback addresses
    webhook_worker_seconds: int = 1  # poll interval of the worker inside `serve`; 0: none
    api_rate_per_second: int = 100  # per customer API key, sustained
    api_burst: int = 1000  # per customer API key, requests in a burst
    # Customer keys' rate limit: "shared" (one budget across all processes on the database),
    # "process" (per server process) or "auto" (shared on PostgreSQL, per process on SQLite).
    api_rate_scope: str = "auto"
    idempotency_retention_hours: int = 24  # an Idempotency-Key may be reused after this
    console_idle_minutes: int = 30  # a console session unused this long must sign in again
    console_session_hours: int = 12  # and every session ends this long after sign-in
    console_max_failures: int = 5  # failed sign-ins in a row before the name is locked
    console_lockout_minutes: int = 15  # how long a locked name stays locked
    # Addresses (comma-separated IPs or CIDRs) of reverse proxies whose X-Forwarded-For and
    # X-Forwarded-Proto are believed. Empty: none, so no client can forge its address (rate
    # limits, the audit trail) or claim https. E.g. "10.0.0.5" for the site's TLS proxy.
    trusted_proxies: str = ""
    # Observability (docs/monitoring.md). /metrics answers a request with "Authorization:
    # Bearer <metrics_token>" when the token is set; without one, only a loopback client that
    # came through no proxy. metrics=false / request_log=false turn them off.
    metrics: bool = True
    metrics_token: str = ""
    request_log: bool = True  # one structured log line per HTTP request
    # `postex worker`, `replicate` and `hub consume` serve /metrics on this port (0: off;
    # --metrics-port), on metrics_host (loopback unless a token guards it).
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    # Public tracking answers kept in each process while the database is unchanged
    # (SQLite: PRAGMA data_version; http.answers). false: every request reads the store.
    answer_cache: bool = True
    log_format: str = "auto"  # json | console | auto (console on a terminal, JSON otherwise)
    log_level: str = "info"
    # Which of the fields above were given (a flag, the environment or the file) rather
    # than left at their defaults; None: all of them (settings built in code). The node's
    # site and role come from its database, and only a given one can contradict it.
    given: frozenset[str] | None = field(default=None, compare=False, repr=False)

    def is_given(self, name: str) -> bool:
        return self.given is None or name in self.given

    def resolved(self) -> Settings:
        home = self.home
        db_url = self.db_url or f"sqlite:///{home / 'postex.db'}"
        keys_dir = self.keys_dir if str(self.keys_dir) not in ("", ".") else home / "keys"
        if self.idempotency_retention_hours < 1:
            raise ConfigurationError(
                "idempotency_retention_hours must be at least 1, "
                f"not {self.idempotency_retention_hours}"
            )
        if self.role not in ROLES:
            raise ConfigurationError(f"role must be one of {', '.join(ROLES)}, not {self.role!r}")
        if self.api_rate_scope not in RATE_SCOPES:
            raise ConfigurationError(
                f"api_rate_scope must be one of {', '.join(RATE_SCOPES)}, "
                f"not {self.api_rate_scope!r}"
            )
        if self.log_format not in LOG_FORMATS:
            raise ConfigurationError(
                f"log_format must be one of {', '.join(LOG_FORMATS)}, not {self.log_format!r}"
            )
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigurationError(
                f"log_level must be debug, info, warning or error, not {self.log_level!r}"
            )
        if self.nats_stream_max_age_days < 1 or self.nats_stream_max_bytes < 1024**2:
            raise ConfigurationError(
                "nats_stream_max_age_days must be at least 1 and nats_stream_max_bytes at "
                "least 1048576"
            )
        return replace(self, db_url=db_url, keys_dir=keys_dir)


def _coerce(name: str, value: Any) -> Any:
    kind = {f.name: f.type for f in fields(Settings) if f.name != "given"}[name]
    if kind in ("Path", Path):
        return Path(value)
    if kind in ("bool", bool):
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
    if kind in ("int", int):
        try:
            return int(value)
        except ValueError:
            raise ConfigurationError(f"{name} must be a whole number, not {value!r}") from None
    return str(value)


def load_settings(**overrides: Any) -> Settings:
    names = {f.name for f in fields(Settings)} - {"given"}
    values: dict[str, Any] = {}
    config_path = Path(os.environ.get("POSTEX_CONFIG", "postex.toml"))
    if config_path.is_file():
        with config_path.open("rb") as f:
            data = tomllib.load(f)
        unknown = set(data) - names
        if unknown:
            raise ConfigurationError(f"unknown keys in {config_path}: {', '.join(sorted(unknown))}")
        values.update({k: _coerce(k, v) for k, v in data.items()})
    for name in names:
        env = os.environ.get(f"POSTEX_{name.upper()}")
        if env:
            values[name] = _coerce(name, env)
    values.update({k: _coerce(k, v) for k, v in overrides.items() if v is not None})
    return Settings(**values, given=frozenset(values)).resolved()
