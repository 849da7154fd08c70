"""postex.kernel."""
