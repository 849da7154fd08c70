"""postex.incidents.app."""
