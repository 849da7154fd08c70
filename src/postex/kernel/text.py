"""One text policy for every piece of free text Postex accepts, stores and writes.

Free text (names, address lines, descriptions, reasons, advisories…) is NFC-normalised
and refused when it holds a character that XML 1.0 (the EDI messages) or the PDF forms
cannot carry:

- C0 controls (U+0000–U+001F) and DEL, except a tab or a line break where a field allows
  several lines (``multiline``);
- C1 controls (U+0080–U+009F);
- surrogates (U+D800–U+DFFF): a lone one is not a character at all;
- noncharacters: U+FDD0–U+FDEF and the last two code points of every plane (U+FFFE,
  U+FFFF, U+1FFFE … U+10FFFF).

The edge (kernel.validation's Checker, used by every domain constructor) refuses such text
with the rule ``control_characters`` (a control) or ``unwritable_character`` (a surrogate
or a noncharacter), naming the field and the code point; the EDI writers
(``postex.edi._xml``) and the PDF writers (``postex.pdf._text``) ask the very same
:func:`forbidden` question, so whatever is accepted can be written. Characters a font does
not draw are not refused: the PDF prints ``?`` for them (a label still travels).
"""

from __future__ import annotations

import re
import unicodedata

from postex.kernel.errors import FieldError, ValidationError

CONTROL_RULE = "control_characters"  # C0 and C1 controls (where the field allows none)
RULE = "unwritable_character"  # surrogates and noncharacters
# Everything forbidden in any field; the tab and line feed are allowed in multiline ones.
_NEVER = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff" + "".join(
    f"{chr(p * 0x10000 + 0xFFFE)}{chr(p * 0x10000 + 0xFFFF)}" for p in range(1, 17)
)
_ONE_LINE = re.compile(f"[{_NEVER}\t\n\r]")
_MULTILINE = re.compile(f"[{_NEVER}\r]")
_XML = re.compile(f"[{_NEVER}]")  # what XML 1.0 cannot carry (tab, CR and LF it can)
_ASCII_ONE_LINE = re.compile("[\x00-\x1f\x7f]")  # the same rules on ASCII-only text
_ASCII_MULTILINE = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def forbidden(text: str, *, multiline: bool = False, xml: bool = False) -> str | None:
    """The first character of ``text`` the policy refuses, or None.

    ``multiline`` allows tab and line feed (a carriage return is normalised away by
    :func:`normalise`); ``xml`` is the writers' question: anything XML 1.0 can carry,
    which includes tab, CR and LF.
    """
    pattern = _XML if xml else _MULTILINE if multiline else _ONE_LINE
    found = pattern.search(text)
    return found.group() if found else None


def code_point(ch: str) -> str:
    """``U+FFFF``: how a refused character is named (never the character itself)."""
    return f"U+{ord(ch):04X}"


def normalise(text: str) -> str:
    """NFC, CR LF and lone CR as LF. Lone surrogates are left for :func:`forbidden`."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        return unicodedata.normalize("NFC", text)
    except UnicodeError:  # pragma: no cover - normalize does not raise on str input today
        return text


def check(
    value: str,
    field: str,
    *,
    min_len: int = 1,
    max_len: int = 100,
    multiline: bool = False,
) -> str:
    """``value`` normalised and stripped, or ValidationError naming field, rule and value.

    Rules: ``control_characters`` and ``unwritable_character`` (a character the policy
    refuses; ``character`` in the error names its code point), ``min_length`` and
    ``max_length`` (counted in characters after normalisation).
    """
    problem = error(value, field, min_len=min_len, max_len=max_len, multiline=multiline)
    if isinstance(problem, FieldError):
        raise ValidationError([problem])
    return problem


def error(
    value: str,
    field: str,
    *,
    min_len: int = 1,
    max_len: int = 100,
    multiline: bool = False,
) -> str | FieldError:
    """Like :func:`check`, but returns the FieldError instead of raising it."""
    if value.isascii():  # the common case: NFC already, only ASCII controls to look for
        text = value.strip()
        if multiline and "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        found = (_ASCII_MULTILINE if multiline else _ASCII_ONE_LINE).search(text)
    else:
        text = normalise(value).strip()
        found = (_MULTILINE if multiline else _ONE_LINE).search(text)
    bad = found.group() if found else None
    if bad is not None:
        allowed = " (tab and line breaks are allowed)" if multiline else ""
        rule = CONTROL_RULE if unicodedata.category(bad) == "Cc" else RULE
        return FieldError(
            field,
            rule,
            value,
            f"{field} holds {code_point(bad)}, a character that cannot be written to the "
            f"postal messages and forms; remove it{allowed}",
            extra={"character": code_point(bad)},
        )
    if len(text) < min_len:
        return FieldError(
            field, "min_length", value, f"{field} needs at least {min_len} characters"
        )
    if len(text) > max_len:
        return FieldError(field, "max_length", value, f"{field} has at most {max_len} characters")
    return text


def clean(value: str, field: str, *, multiline: bool = False) -> str:
    """``value`` normalised and stripped; ValidationError if it holds a refused character
    (no length rule: for callers with their own)."""
    problem = error(value, field, min_len=0, max_len=len(value) + 1, multiline=multiline)
    if isinstance(problem, FieldError):
        raise ValidationError([problem])
    return problem
