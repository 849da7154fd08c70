"""postex.incidents.http."""
