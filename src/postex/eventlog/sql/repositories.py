"""Which SQL class implements which app port: a mapping written once, in bootstrap."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection

Factory = Callable[[Connection], Any]
Repositories = Mapping[type, Factory]
