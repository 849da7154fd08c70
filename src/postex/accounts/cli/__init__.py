"""postex.accounts.cli."""
