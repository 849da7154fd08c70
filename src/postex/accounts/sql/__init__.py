"""postex.accounts.sql."""
