"""postex.accounts."""
