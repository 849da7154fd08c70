"""postex.accounts.app."""
