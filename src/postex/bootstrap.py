"""The composition root: builds the store, keys and use-case context from settings.

Nothing is built at import time; entry points call :func:`build` once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from postex.adapters.clock import SystemClock
from postex.adapters.keys.kek import KEK_FILE, KekProvider
from postex.adapters.keys.signing import FileSigner, load_or_create_signer, trusted_keys
from postex.adapters.keys.vault import EnvelopeVault

# Feature modules register their projections and repositories when imported.
from postex.adapters.sql import auth as _auth  # noqa: F401
from postex.adapters.sql import core as _core  # noqa: F401
from postex.adapters.sql.store import SqlStore
from postex.app.context import Context
from postex.app.ports import Clock
from postex.config import Settings
from postex.domain.errors import ConfigurationError


@dataclass
class Container:
    settings: Settings
    store: SqlStore
    kek: KekProvider
    vault: EnvelopeVault
    signer: FileSigner
    ctx: Context
    extras: dict[str, object] = field(default_factory=dict)

    def trusted_keys(self) -> dict[str, bytes]:
        return trusted_keys(self.settings.keys_dir)

    def close(self) -> None:
        self.store.dispose()


def load_kek(keys_dir: Path, create: bool = False) -> KekProvider:
    env = os.environ.get("POSTEX_KEK")
    if env:
        return KekProvider.from_env_value(env)
    path = keys_dir / KEK_FILE
    if not path.exists():
        if not create:
            raise ConfigurationError(
                f"no key-encryption key: {path} is missing and POSTEX_KEK is unset; "
                "run `postex init` first"
            )
        return KekProvider.create_file(path)
    return KekProvider.from_file(path)


def build(settings: Settings, *, create: bool = False, clock: Clock | None = None) -> Container:
    """Wire a node. ``create`` makes missing key files and migrates the database."""
    if create:
        settings.home.mkdir(parents=True, exist_ok=True)
        settings.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    kek = load_kek(settings.keys_dir, create=create)
    signer = load_or_create_signer(settings.keys_dir, settings.site)
    signers = {settings.site: signer}

    def signer_for(site: str) -> FileSigner | None:
        # A single node plays every site of the network, so it signs for each; a site
        # node signs only its own log; a hub signs nothing of the sites' (it witnesses).
        if site not in signers and settings.role == "single":
            signers[site] = load_or_create_signer(settings.keys_dir, site)
        return signers.get(site)

    clock = clock or SystemClock()
    store = SqlStore(
        settings.db_url, clock, signer_for=signer_for, checkpoint_every=settings.checkpoint_every
    )
    if create:
        store.migrate()
    vault = EnvelopeVault(kek)
    ctx = Context(
        store=store, vault=vault, clock=clock, site=settings.site, country=settings.country
    )
    return Container(settings, store, kek, vault, signer, ctx)
