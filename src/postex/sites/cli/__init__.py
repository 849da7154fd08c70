"""Commands of the sites feature."""
