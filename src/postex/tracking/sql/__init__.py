"""postex.tracking.sql."""
