"""postex.network."""
