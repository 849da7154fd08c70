"""postex.incidents.cli."""
