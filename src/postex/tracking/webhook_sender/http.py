"""POST signed webhook bodies with httpx; refuse private targets unless allowed.

The target's host is resolved before each attempt and every address checked, so a public
name that later points at a private address (DNS rebinding) is refused too. Redirects are
not followed: a 3xx is a failed attempt.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

from postex.tracking.app.webhooks import SendOutcome, is_private_host

TIMEOUT_S = 10.0


class HttpWebhookSender:
    def __init__(self, allow_private: bool = False, timeout: float = TIMEOUT_S) -> None:
        self.allow_private = allow_private
        self.client = httpx.Client(timeout=timeout, follow_redirects=False)

    def _private(self, url: str) -> bool:
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            return False  # the POST refuses the URL and reports it
        if is_private_host(host):
            return True
        try:
            infos = socket.getaddrinfo(host, None)
        except (OSError, UnicodeError, ValueError):
            return False  # the POST will fail and report the resolution error
        return any(not ipaddress.ip_address(str(info[4][0])).is_global for info in infos)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendOutcome:
        if not self.allow_private and self._private(url):
            return SendOutcome(None, "private_target")
        try:
            response = self.client.post(url, content=body, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL, UnicodeError, ValueError) as exc:
            return SendOutcome(None, type(exc).__name__)
        return SendOutcome(response.status_code, None if response.is_success else "http_status")

    def close(self) -> None:
        self.client.close()
