"""postex.sites.app."""
