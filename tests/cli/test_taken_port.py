"""A taken port is one clear line and exit 2, before anything is set up."""

from __future__ import annotations

import socket
from pathlib import Path

from typer.testing import CliRunner

from postex.cli.main import app


def test_demo_on_a_taken_port_says_how_to_choose_another(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["demo", "--home", str(tmp_path), "--port", str(port)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert f"port {port} on 127.0.0.1 is taken" in lines[0] and f"--port {port + 1}" in lines[0]
    assert not (tmp_path / "postex.db").exists()  # nothing was set up
