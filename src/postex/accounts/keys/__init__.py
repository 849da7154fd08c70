"""Key material: the key-encryption key, per-customer data keys and site signing keys."""
