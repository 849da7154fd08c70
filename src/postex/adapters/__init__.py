"""Adapters: the outside world (databases, message buses, files, EDI) behind the app's ports."""
