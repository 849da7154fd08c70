"""Backups as directories of signed, compressed log segments."""
