"""Benchmarks (filled in below)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks; results belong in docs/benchmarks.md.", no_args_is_help=True)
