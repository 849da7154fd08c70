"""FastAPI dependencies: the node's container and use-case context."""

from __future__ import annotations

from typing import cast

from fastapi import Request

from postex.bootstrap import Container
from postex.eventlog.context import Context


def container(request: Request) -> Container:
    return cast(Container, request.app.state.container)


def context(request: Request) -> Context:
    return container(request).ctx


def cut_off_since(request: Request) -> str | None:
    """Since when this site has heard from no other node (None while in touch; never on a
    hub or a single node)."""
    return container(request).cut_off_since()
