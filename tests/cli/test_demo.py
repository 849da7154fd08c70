"""`postex demo` (what `make run` does): a day at the site with every state to look at,
and the addresses and sign-ins a newcomer needs."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from postex.bootstrap import build
from postex.cli.main import app
from postex.config import load_settings
from postex.demo import DEMO_SHOWN_STATES
from postex.eventlog.sql.admin import execute_raw
from postex.tracking.app.public import tracking_view

runner = CliRunner()


def test_the_demo_day_leaves_an_item_in_every_state_and_prints_where_to_look(
    tmp_path: Path,
) -> None:
    result = runner.invoke(app, ["demo", "--home", str(tmp_path), "--seed-only"])
    assert result.exit_code == 0, result.output
    text = result.output
    for address in ("http://127.0.0.1:8000/", "/console", "/docs"):
        assert address in text
    assert "clerk.demo" in text and "supervisor.demo" in text and "ops.demo" in text
    shown = dict(re.findall(r"^\s+([a-z ]+?)\s+http://\S+/track/([A-Z0-9]{13})$", text, re.M))
    c = build(load_settings(home=str(tmp_path)))
    try:
        for state in DEMO_SHOWN_STATES:
            item = shown[state.replace("_", " ")]
            [(actual,)] = execute_raw(c.engine, f"SELECT state FROM items WHERE id = '{item}'")
            assert actual == state, (state, item)
        # The held item's page shows the hold's public advisory.
        held = tracking_view(c.ctx, shown["held"])
        assert held.headline == "Held" and held.advisory is not None
    finally:
        c.close()
    again = runner.invoke(app, ["demo", "--home", str(tmp_path), "--seed-only"])
    assert again.exit_code == 0 and "seeded" not in again.output  # a second run adds nothing
