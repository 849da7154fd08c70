"""Files and folders only their owner can read: files 0600, folders 0700, whatever the umask."""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> None:
    """Make ``path`` (and missing parents) a folder; every folder made here is 0700.

    A folder that already exists keeps its mode: the operator chose it.
    """
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    for made in missing:
        os.chmod(made, DIR_MODE)  # mkdir's mode is masked by the umask


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if missing (then open it to write), or force 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)
    return path
