"""docs/events.md is the catalogue as the code declares it."""

from __future__ import annotations

from pathlib import Path

from postex.bootstrap import CATALOGUE, PROJECTIONS
from postex.cli.catalogue import markdown

DOC = Path(__file__).parents[2] / "docs" / "events.md"


def test_events_md_is_generated_from_the_catalogue() -> None:
    """A new event type, field or reader without `postex catalogue > docs/events.md` fails."""
    assert DOC.read_text(encoding="utf-8") == markdown()


def test_every_event_type_is_documented_with_its_writers_and_readers() -> None:
    """Each type has a section; every type a projection reads is in the catalogue; every
    current type has at least one writer found in the source."""
    text = markdown()
    for event_type in CATALOGUE.types:
        assert f"### `{event_type}`" in text
    read = {t for p in PROJECTIONS for t in p.handlers}
    assert read <= set(CATALOGUE.types)
    assert "Written by: —" not in text
