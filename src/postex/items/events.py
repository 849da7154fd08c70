"""Stored event type names: stable, versioned strings (never Python class paths).

Old versions stay readable forever: a new shape gets a new ``.vN`` and projections keep
handling every version they ever saw.
"""

CUSTOMER_CREATED = "customer.created.v1"
CUSTOMER_ERASED = "customer.erased.v1"
ITEM_PRE_ADVISED = "item.pre_advised.v1"
ITEM_CANCELLED = "item.cancelled.v1"
KEYS_ROTATED = "keys.rotated.v1"
