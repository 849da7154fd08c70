"""The event catalogue: every stored event type as a typed, versioned record.

Each feature declares its events in its ``events.py`` as frozen dataclasses::

    @dataclass(frozen=True, slots=True)
    class HoldConfirmed(Event):
        TYPE: ClassVar[str] = "hold.confirmed.v1"
        hold_id: str
        by: dict[str, Any] = field(metadata=doc("who confirmed it (actor record)"))

and lists them in ``EVENTS``; ``bootstrap`` puts every feature's list into one
:class:`Catalogue`. Writers build these records, the log stores ``to_body()`` as canonical
JSON, and projections receive them decoded (:meth:`Catalogue.decode`). The ``TYPE`` string
is the contract with every log ever written: it never changes, and a class is never
renamed into another type. A new shape gets a new ``.vN`` class, and an :class:`Upcaster`
turns the old body into the new record when an old log is replayed.

Body keys are the field names, one to one. A field declared with ``omit_none()`` is left
out of the body while it is None, as the writers before the catalogue did; every other
field is always written. Money is in minor units, weights in grams, lengths in
millimetres, times are RFC 3339 UTC text: the log holds no floats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, ClassVar, Self, TypeVar

from postex.kernel.errors import ConfigurationError

_OMIT = "postex_omit_none"
_DOC = "postex_doc"


def omit_none(doc: str = "") -> Any:
    """A field that defaults to None and is absent from the body while it is None."""
    return field(default=None, metadata={_OMIT: True, _DOC: doc})


def doc(text: str) -> dict[str, str]:
    """Field metadata documenting a field (units, meaning) for docs/events.md."""
    return {_DOC: text}


class Event:
    """Base of every stored event type: a frozen dataclass with a stable ``TYPE`` string."""

    __slots__ = ()
    TYPE: ClassVar[str]

    def to_body(self) -> dict[str, Any]:
        """The body as stored (before canonical JSON encoding)."""
        out: dict[str, Any] = {}
        for name, omit in _layout(type(self)):
            value = getattr(self, name)
            if omit and value is None:
                continue
            out[name] = value
        return out

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        """Read a stored body; keys the class does not know are ignored, missing ones default."""
        names = _names(cls)
        return cls(**{k: v for k, v in body.items() if k in names})


E = TypeVar("E", bound=Event)


_LAYOUTS: dict[type[Event], tuple[tuple[str, bool], ...]] = {}
_NAMES: dict[type[Event], frozenset[str]] = {}


def _layout(cls: type[Event]) -> tuple[tuple[str, bool], ...]:
    """(body key, omitted while None) per field, computed once per class."""
    found = _LAYOUTS.get(cls)
    if found is None:
        found = tuple((f.name, bool(f.metadata.get(_OMIT))) for f in fields(cls))  # type: ignore[arg-type]
        _LAYOUTS[cls] = found
    return found


def _names(cls: type[Event]) -> frozenset[str]:
    found = _NAMES.get(cls)
    if found is None:
        found = _NAMES[cls] = frozenset(name for name, _ in _layout(cls))
    return found


def event_fields(cls: type[Event]) -> list[Field[Any]]:
    """The dataclass fields of an event type, in body-key order of declaration."""
    return list(fields(cls))  # type: ignore[arg-type]


def field_doc(f: Field[Any]) -> str:
    return str(f.metadata.get(_DOC, ""))


def is_optional(f: Field[Any]) -> bool:
    return (
        bool(f.metadata.get(_OMIT))
        or f.default is not MISSING
        or (f.default_factory is not MISSING)
    )


@dataclass(frozen=True, slots=True)
class UnknownEvent(Event):
    """A stored type this node's catalogue does not know (no projection reads it)."""

    TYPE: ClassVar[str] = ""
    type: str
    body: Mapping[str, Any]

    def to_body(self) -> dict[str, Any]:
        return dict(self.body)


@dataclass(frozen=True)
class Upcaster:
    """Reads ``old_type`` bodies as ``new``: ``convert`` maps the old body to the new one."""

    old_type: str
    new: type[Event]
    convert: Callable[[Mapping[str, Any]], Mapping[str, Any]]


class Catalogue:
    """Every event type a node reads and writes, and the upcasters of their old versions."""

    def __init__(self, events: Iterable[type[Event]], upcasters: Iterable[Upcaster] = ()) -> None:
        self.types: dict[str, type[Event]] = {}
        for cls in events:
            if cls.TYPE in self.types and self.types[cls.TYPE] is not cls:
                raise ConfigurationError(f"event type {cls.TYPE} declared twice")
            self.types[cls.TYPE] = cls
        self.upcasters: dict[str, Upcaster] = {}
        for up in upcasters:
            if up.old_type in self.types:
                raise ConfigurationError(f"{up.old_type} is both current and upcast")
            self.upcasters[up.old_type] = up

    def decode(self, type_: str, body: Mapping[str, Any]) -> Event:
        """The record for a stored event; old versions come out as their current class."""
        cls = self.types.get(type_)
        if cls is not None:
            return cls.from_body(body)
        up = self.upcasters.get(type_)
        while up is not None:
            body = up.convert(body)
            cls = self.types.get(up.new.TYPE)
            if cls is not None:
                return cls.from_body(body)
            up = self.upcasters.get(up.new.TYPE)
        return UnknownEvent(type_, body)

    def current_type(self, type_: str) -> str:
        """The type a stored type is read as (itself, or what its upcasters lead to)."""
        seen = type_
        while seen not in self.types and seen in self.upcasters:
            seen = self.upcasters[seen].new.TYPE
        return seen

    def __contains__(self, type_: str) -> bool:
        return type_ in self.types or type_ in self.upcasters
