"""``postex bench replication`` (filled in below)."""

from __future__ import annotations

from postex.entrypoints.cli.bench import app

del app
