"""postex.items.domain."""
