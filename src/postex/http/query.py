"""Strict query strings: a parameter a route does not define is refused, never ignored.

A typo (``acter=`` for ``actor=``) that is silently dropped turns a filtered list into
the whole list. :func:`strict_query` is one dependency, added by ``server.create_app`` to
every ``/api/`` route: it reads the names the route itself declares (its own and its
dependencies' query parameters, by alias) and answers 422 ``unknown_field`` for any other.
Who is calling is still checked first: problems.py answers 401/403 before describing input.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from postex.kernel.errors import FieldError, ValidationError


def _names(dependant: Dependant) -> frozenset[str]:
    found = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        found |= _names(sub)
    return frozenset(found)


def _allowed(route: APIRoute) -> frozenset[str]:
    names: frozenset[str] | None = getattr(route, "_postex_query_names", None)
    if names is None:
        names = _names(route.dependant)
        route._postex_query_names = names  # type: ignore[attr-defined]  # computed once
    return names


async def strict_query(request: Request) -> None:
    """Refuse query parameters the route does not define (422, rule ``unknown_field``)."""
    route = request.scope.get("route")
    if not request.query_params or not isinstance(route, APIRoute):
        return
    unknown = sorted(set(request.query_params) - _allowed(route))
    if unknown:
        raise ValidationError(
            FieldError(k[:80], "unknown_field", k[:80], f"unknown query parameter {k[:80]!r}")
            for k in unknown[:20]
        )
