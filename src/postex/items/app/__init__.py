"""postex.items.app."""
