"""postex.items.http."""
