"""postex.sites.http."""
