"""Webhook delivery over HTTP (httpx)."""

from postex.tracking.webhook_sender.http import HttpWebhookSender

__all__ = ["HttpWebhookSender"]
