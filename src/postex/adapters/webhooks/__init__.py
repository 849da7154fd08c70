"""Webhook delivery over HTTP (httpx)."""

from postex.adapters.webhooks.http import HttpWebhookSender

__all__ = ["HttpWebhookSender"]
