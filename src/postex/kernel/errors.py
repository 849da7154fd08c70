"""One tree of errors for the whole product.

Every error carries a stable ``code`` (a URI-safe slug used as the problem ``type``), a
human ``title`` and a ``detail``. Validation errors also name the ``field``, the ``rule``
broken and the offending ``value``. The HTTP layer maps the classes to status codes in one
table, the CLI maps them to exit codes; nothing below the entry points knows about either.

Values echoed back are truncated and never logged: they may be personal data.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_ECHOED_VALUE = 120


def _echo(value: object) -> object:
    """Return a value safe to show back to the caller who sent it (short, JSON-friendly).

    Never recursive: a container is summarised, not rendered (a value nested a thousand
    levels deep must not cost a RecursionError). Lone surrogates, which no UTF-8 response
    can carry, are shown as U+FFFD.
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        text = value
    elif isinstance(value, dict):
        text = f"{{object with {len(value)} members}}"
    elif isinstance(value, list | tuple):
        text = f"[array of {len(value)}]"
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = type(value).__name__
    text = text if len(text) <= MAX_ECHOED_VALUE else text[:MAX_ECHOED_VALUE] + "…"
    return _SURROGATE.sub("\ufffd", text)


_SURROGATE = re.compile("[\ud800-\udfff]")


class PostexError(Exception):
    """Base of every error Postex raises on purpose."""

    code = "postex-error"
    title = "Postex error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra: dict[str, Any] = extra

    def to_problem(self) -> dict[str, Any]:
        """The RFC 9457 members this error contributes (without ``status``)."""
        body: dict[str, Any] = {"type": self.code, "title": self.title, "detail": self.detail}
        body.update(self.extra)
        return body


@dataclass(frozen=True)
class FieldError:
    """One broken rule: which field, which rule, which value, and what to do."""

    field: str
    rule: str
    value: object
    message: str
    line: int | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "field": self.field,
            "rule": self.rule,
            "value": _echo(self.value),
            "message": self.message,
        }
        if self.line is not None:
            out["line"] = self.line
        out.update(self.extra)
        return out

    def at(self, prefix: str) -> FieldError:
        """The same error with its field path nested under ``prefix``."""
        path = f"{prefix}.{self.field}" if self.field else prefix
        return FieldError(path, self.rule, self.value, self.message, self.line, self.extra)

    def on_line(self, line: int) -> FieldError:
        return FieldError(self.field, self.rule, self.value, self.message, line, self.extra)


class ValidationError(PostexError):
    """Input broke one or more rules. Nothing was written."""

    code = "validation-error"
    title = "The request breaks a rule"

    def __init__(self, errors: Iterable[FieldError], detail: str | None = None) -> None:
        self.errors = list(errors)
        if not self.errors:
            raise ValueError("a ValidationError needs at least one FieldError")
        first = self.errors[0]
        text = detail or (
            first.message
            if len(self.errors) == 1
            else f"{len(self.errors)} rules broken; first: {first.field}: {first.message}"
        )
        super().__init__(text)

    @classmethod
    def single(cls, field: str, rule: str, value: object, message: str) -> ValidationError:
        return cls([FieldError(field, rule, value, message)])

    def nested(self, prefix: str) -> ValidationError:
        return ValidationError([e.at(prefix) for e in self.errors])

    def to_problem(self) -> dict[str, Any]:
        body = super().to_problem()
        first = self.errors[0]
        body.update({"field": first.field, "rule": first.rule, "value": _echo(first.value)})
        body["errors"] = [e.to_dict() for e in self.errors]
        return body


class NotFoundError(PostexError):
    """The object does not exist, or the caller may not know that it does."""

    code = "not-found"
    title = "Not found"


class InvalidStateError(PostexError):
    """The object exists but is not in a state that allows this action."""

    code = "invalid-state"
    title = "Not allowed in the current state"


class ConflictError(PostexError):
    """The action conflicts with another one (a duplicate, a race, an overlap)."""

    code = "conflict"
    title = "Conflict"


class HeldError(InvalidStateError):
    """An export hold covers this action; the problem quotes the hold's advisory."""

    code = "export-held"
    title = "Exports are on hold"


class UnauthenticatedError(PostexError):
    """No credentials, or credentials that are unknown, revoked or expired."""

    code = "unauthenticated"
    title = "Authentication required"


class ForbiddenError(PostexError):
    """Authenticated, but the role may not do this (only for objects the caller may see)."""

    code = "forbidden"
    title = "Forbidden"


class RateLimitedError(PostexError):
    """Too many requests; retry after ``retry_after`` seconds."""

    code = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class PayloadTooLargeError(PostexError):
    code = "payload-too-large"
    title = "Request body too large"


class IntegrityError(PostexError):
    """Stored history does not verify: a broken hash, link, gap or signature."""

    code = "integrity-error"
    title = "Integrity check failed"

    def __init__(self, detail: str, site: str | None = None, seq: int | None = None) -> None:
        super().__init__(detail, site=site, seq=seq)
        self.site = site
        self.seq = seq


class StoreUnreadableError(IntegrityError):
    """The store itself cannot be read: damaged, overwritten or encrypted files."""

    code = "store-unreadable"
    title = "The store cannot be read"


class StoreUnreachableError(PostexError):
    """The database cannot be reached (bad URL, server down, refused, wrong credentials):
    nothing was read, so nothing is known about the data's integrity."""

    code = "store-unreachable"
    title = "The database cannot be reached"


class KeyUnavailableError(PostexError):
    """A key is missing, destroyed or does not match (never says which bytes)."""

    code = "key-error"
    title = "Key unavailable"


class ConfigurationError(PostexError):
    code = "configuration-error"
    title = "Configuration error"
