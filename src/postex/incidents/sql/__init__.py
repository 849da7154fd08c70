"""postex.incidents.sql."""
