"""postex.incidents."""
