"""Replication bookkeeping on SQL: the tables, the state beside the log, the hub's copy."""
