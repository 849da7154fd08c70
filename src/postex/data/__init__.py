"""Versioned reference data files (services, customs rules, postcodes, network, events)."""
