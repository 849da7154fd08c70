"""postex.tracking."""
