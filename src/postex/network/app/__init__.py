"""postex.network.app."""
