"""Small helpers that validate plain values and collect every broken rule at once.

Domain constructors use a :class:`Checker` so that a customer sees all problems of an
item (or of every row of a manifest) in one answer, not one at a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from postex.kernel import text as text_policy
from postex.kernel.errors import FieldError, ValidationError

T = TypeVar("T")

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_SAFE_INT = 2**53 - 1  # the canonical log encodes numbers as IEEE doubles (RFC 8785)


class Checker:
    """Collects field errors; :meth:`done` raises them all together."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.errors: list[FieldError] = []

    def path(self, field: str) -> str:
        return f"{self.prefix}.{field}" if self.prefix else field

    def fail(self, field: str, rule: str, value: object, message: str) -> None:
        self.errors.append(FieldError(self.path(field), rule, value, message))

    def run(self, fn: Callable[[], T]) -> T | None:
        """Call ``fn``; collect its ValidationError (paths nested under the prefix)."""
        try:
            return fn()
        except ValidationError as exc:
            self.errors.extend(e.at(self.prefix) if self.prefix else e for e in exc.errors)
            return None

    def text(
        self,
        data: dict[str, Any],
        field: str,
        *,
        required: bool = True,
        min_len: int = 1,
        max_len: int = 100,
        multiline: bool = False,
    ) -> str | None:
        """Free text under the one text policy (kernel.text): NFC, stripped, no control
        (except tab and line feed when ``multiline``), surrogate or noncharacter, and
        ``min_len`` to ``max_len`` characters."""
        value = data.get(field)
        if value is None or (isinstance(value, str) and value.strip() == "" and not required):
            if required:
                self.fail(field, "required", value, f"{field} is required")
            return None
        if not isinstance(value, str):
            self.fail(field, "type", value, f"{field} must be a string")
            return None
        checked = text_policy.error(
            value, field, min_len=min_len, max_len=max_len, multiline=multiline
        )
        if isinstance(checked, FieldError):
            self.errors.append(checked.at(self.prefix) if self.prefix else checked)
            return None
        return checked

    def integer(
        self,
        data: dict[str, Any],
        field: str,
        *,
        minimum: int,
        maximum: int = MAX_SAFE_INT,
        required: bool = True,
    ) -> int | None:
        value = data.get(field)
        if value is None:
            if required:
                self.fail(field, "required", value, f"{field} is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, "type", value, f"{field} must be a whole number")
            return None
        if value < minimum:
            self.fail(field, "minimum", value, f"{field} must be at least {minimum}")
            return None
        if value > maximum:
            self.fail(field, "maximum", value, f"{field} must be at most {maximum}")
            return None
        return value

    def done(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def as_mapping(value: object, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError.single(field, "type", value, f"{field} must be an object")
    return value


def reject_unknown(data: dict[str, Any], allowed: set[str], checker: Checker) -> None:
    for key in data:
        if key not in allowed:
            checker.fail(str(key), "unknown_field", key, f"unknown field {key!r}")


MAX_JSON_DEPTH = 16  # a manifest is 5 deep (array, item, contents, lines, line)
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")


def check_json_depth(raw: bytes, field: str = "body", limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse a (well-formed) JSON document nested deeper than ``limit`` (rule
    ``json_depth``), without recursion: strings are cut out, the brackets kept, and one
    level of empty pairs removed per pass; anything left after ``limit`` passes is deeper."""
    skeleton = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    for _ in range(limit):
        if not skeleton:
            return
        skeleton = _INNERMOST.sub(b"", skeleton)
    if skeleton:
        raise ValidationError.single(
            field, "json_depth", limit, f"JSON nested deeper than {limit} levels"
        )
