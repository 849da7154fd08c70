"""postex.network.cli."""
