"""The event catalogue as a document: every stored type, its fields, who writes and who reads it.

``docs/events.md`` is this module's output for the node's catalogue (``postex catalogue``
prints it; a test fails when the file is stale). Writers are found by reading the
package's source: a module writes a type when it constructs its class.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import get_type_hints

from postex.eventlog.catalogue import Catalogue, Event, event_fields, field_doc, is_optional

HEADER = """# The event catalogue

Every event a Postex node stores, generated from the catalogue (`postex catalogue` prints
this page; `tests` fail when it is stale). Each type is a frozen dataclass in its feature's
`events.py`; the body stored in the log is the canonical JSON (RFC 8785) of its fields.
Type strings never change and old versions stay readable: a new shape is a new `.vN`,
and an upcaster reads the old one (see "Old versions" below and docs/log-format.md).

Units: weights in grams (`_g`), lengths in millimetres (`_mm`), money in minor units;
times are RFC 3339 UTC text unless a field says otherwise; no floats anywhere.
Personal data never appears in clear: it is inside `sealed` tokens (AES-256-GCM under the
customer's data key).
"""


@dataclass(frozen=True)
class Reader:
    projection: str
    event_type: str


def writers_in_source(
    root: Path, package: str, classes: Sequence[type[Event]]
) -> dict[str, list[str]]:
    """Modules (dotted names) that construct each class, found by parsing ``root``'s files."""
    names = {cls.__name__: cls.TYPE for cls in classes}
    found: dict[str, set[str]] = {t: set() for t in names.values()}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        skipped = (
            module.endswith(".events")
            or ".sql" in module
            or module.startswith((f"{package}.bench", f"{package}.eventlog"))
        )
        if skipped:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            fn = node.func
            if isinstance(fn, ast.Attribute) and fn.attr == "of":  # SomeEvent.of(...)
                fn = fn.value
            # SomeEvent(...), or SomeEvent handed to a builder: _chunks(HoldItemsHeld, ...)
            for name in (_called_name(fn), *(_called_name(a) for a in node.args)):
                if name in names:
                    found[names[name]].add(module)
    return {t: sorted(m) for t, m in found.items()}


def _called_name(fn: ast.expr) -> str | None:
    if isinstance(fn, ast.Name):
        return fn.id
    return fn.attr if isinstance(fn, ast.Attribute) else None


def _type_text(annotation: object) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    return (text or str(annotation).replace("typing.", "")).replace("|", "\\|")


def render(
    catalogue: Catalogue,
    readers: Mapping[str, list[str]],
    writers: Mapping[str, list[str]],
    feature_of: Mapping[str, str],
) -> str:
    """The markdown page: one section per feature, one table per event type."""
    out = [HEADER]
    by_feature: dict[str, list[type[Event]]] = {}
    for cls in catalogue.types.values():
        by_feature.setdefault(feature_of[cls.TYPE], []).append(cls)
    for feature in sorted(by_feature):
        out.append(f"\n## {feature}\n")
        for cls in sorted(by_feature[feature], key=lambda c: c.TYPE):
            out.append(f"\n### `{cls.TYPE}` — {cls.__name__}\n")
            doc = (cls.__doc__ or "").strip()
            if doc and not doc.startswith(f"{cls.__name__}("):
                out.append(f"\n{' '.join(doc.split())}\n")
            hints = get_type_hints(cls)
            out.append("\n| field | type | notes |\n| --- | --- | --- |\n")
            for f in event_fields(cls):
                note = field_doc(f)
                if is_optional(f):
                    note = f"{note} (absent while null)" if note else "absent while null"
                out.append(f"| `{f.name}` | `{_type_text(hints[f.name])}` | {note} |\n")
            w = ", ".join(f"`{m}`" for m in writers.get(cls.TYPE, [])) or "—"
            r = ", ".join(f"`{p}`" for p in readers.get(cls.TYPE, [])) or "none (log only)"
            out.append(f"\nWritten by: {w}. Projections that read it: {r}.\n")
    if catalogue.upcasters:
        out.append("\n## Old versions\n\n| stored type | read as | how |\n| --- | --- | --- |\n")
        for old, up in sorted(catalogue.upcasters.items()):
            how = " ".join((up.convert.__doc__ or "converted on replay").split()).replace("``", "`")
            out.append(f"| `{old}` | `{up.new.TYPE}` | {how} |\n")
    return "".join(out)
