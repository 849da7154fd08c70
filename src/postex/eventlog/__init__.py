"""The hash-chained, append-only, per-site event log: encoding, chaining, checkpoints."""
