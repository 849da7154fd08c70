"""The ``postex`` command line (Typer)."""
