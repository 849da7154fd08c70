"""postex.tracking.app."""
