"""The webhook receiver of the tracking tests, for the full day's webhooks."""

from tests.tracking.conftest import receiver

__all__ = ["receiver"]
