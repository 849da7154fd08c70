"""postex.items."""
