"""postex.sites.domain."""
