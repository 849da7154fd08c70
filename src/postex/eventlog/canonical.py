"""Canonical JSON (RFC 8785, JCS) for event bodies.

Postex event bodies are restricted to the subset where the standard library's encoder,
with sorted keys, no whitespace and UTF-8 output, is byte-identical to RFC 8785: objects
with ASCII string keys, arrays, strings, booleans, null and integers of magnitude below
2**53. (Floats are refused: weights are grams, money is minor units.) A property test in
``tests/unit/eventlog`` proves the equivalence against the reference ``rfc8785`` package;
the reference encoder is about five times slower, which matters on the append hot path.
"""

from __future__ import annotations

import json
from typing import Any

from postex.domain.errors import ValidationError

MAX_SAFE_INT = 2**53 - 1

_encode = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode


def check_shape(value: Any, path: str = "body") -> None:
    """Raise ValidationError if ``value`` leaves the canonical subset described above."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError.single(path, "utf8", "…", "lone surrogate in text") from None
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise ValidationError.single(path, "safe_integer", value, "integer beyond 2**53")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise ValidationError.single(path, "ascii_key", key, "keys must be ASCII strings")
            check_shape(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_shape(item, f"{path}.{i}")
    else:
        raise ValidationError.single(
            path, "json_type", type(value).__name__, "event bodies hold no floats or objects"
        )


def canonical(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value`` (checked to lie in the canonical subset)."""
    check_shape(value)
    return _encode(value).encode("utf-8")


def decode(body: bytes) -> Any:
    return json.loads(body)
