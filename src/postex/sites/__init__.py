"""postex.sites."""
