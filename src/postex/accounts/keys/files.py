"""Secret files: created with mode 0600, refused when readable by others."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from postex.kernel.errors import ConfigurationError
from postex.kernel.private import private_dir


def write_secret(path: Path, data: dict[str, Any], *, replace: bool = False) -> None:
    """Write JSON to ``path`` with mode 0600 (atomically when replacing)."""
    private_dir(path.parent)
    payload = json.dumps(data, indent=2).encode()
    if not replace:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        return
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_secret(path: Path) -> dict[str, Any]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigurationError(
            f"key file {path} does not exist; run `postex init` to create it"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(f"key file {path} is readable by others; chmod 600 it")
    data: dict[str, Any] = json.loads(path.read_text())
    return data
