"""Canonical JSON (RFC 8785, JCS) for event bodies.

Postex event bodies are restricted to the subset where orjson with sorted keys (compact,
UTF-8, escaping only what JSON requires, hex escapes in lower case) is byte-identical to
RFC 8785: objects with ASCII string keys, arrays, strings, booleans, null and integers of
magnitude below 2**53. (Floats are refused: weights are grams, money is minor units.) A
property test in ``tests/eventlog`` proves the equivalence against the reference
``rfc8785`` package, which is some twenty times slower — too slow for the append path.
"""

from __future__ import annotations

from typing import Any

import orjson

from postex.kernel.errors import ValidationError

MAX_SAFE_INT = 2**53 - 1

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


_SCALARS = frozenset({str, int, bool, type(None)})


def check_shape(value: Any, path: str = "body") -> None:
    """Raise ValidationError if ``value`` leaves the canonical subset described above.

    Integer range and UTF-8 validity are enforced by the encoder itself
    (``OPT_STRICT_INTEGER``; lone surrogates fail to encode); this walk refuses floats,
    other objects and non-ASCII or non-string keys.
    """
    items = value.values() if type(value) is dict else value
    if type(value) is dict:
        for key in value:
            if type(key) is not str or not key.isascii():
                raise ValidationError.single(path, "ascii_key", key, "keys must be ASCII strings")
    for v in items:
        t = type(v)
        if t in _SCALARS:
            continue
        if t is dict or t is list or t is tuple:
            check_shape(v, path)
        else:
            raise ValidationError.single(
                path, "json_type", t.__name__, "event bodies hold no floats or objects"
            )


def canonical(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value`` (checked to lie in the canonical subset)."""
    if type(value) is not dict:
        raise ValidationError.single("body", "json_type", type(value).__name__, "an object")
    check_shape(value)
    try:
        return orjson.dumps(value, option=_OPTIONS)
    except orjson.JSONEncodeError as exc:  # an integer beyond 2**53, or text that is not UTF-8
        raise ValidationError.single("body", "canonical_subset", "…", str(exc)) from None


def decode(body: bytes) -> Any:
    return orjson.loads(body)
