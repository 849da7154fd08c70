"""postex.items.sql."""
