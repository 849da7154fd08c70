"""Postex: back office for a postal operator's international export service."""

__version__ = "0.1.0"
