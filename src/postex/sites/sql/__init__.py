"""postex.sites.sql."""
