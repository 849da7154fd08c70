"""Which SQL class implements which app port; filled in by each feature module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection

T = TypeVar("T")
Factory = Callable[[Connection], Any]

REPOSITORIES: dict[type, Factory] = {}


def implements(port: type) -> Callable[[type[T]], type[T]]:
    """Class decorator: this SQL class serves ``port`` (a Protocol of the app layer)."""

    def register(cls: type[T]) -> type[T]:
        REPOSITORIES[port] = cls
        return cls

    return register
