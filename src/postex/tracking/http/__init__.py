"""postex.tracking.http."""
