"""POST signed webhook bodies with httpx; refuse private targets unless allowed.

The target's host is resolved once per attempt, every address it resolves to is checked
(``ipaddress``: globally reachable, also for IPv4 carried in IPv6), and the connection is
made to a checked address: the URL is rewritten to that address while the ``Host`` header,
TLS SNI and certificate verification keep the original host name. No second lookup happens,
so a name that answers a public address to the check and a private one to the connection
(DNS rebinding) cannot reach a private address.

Redirects are not followed: a 3xx is a failed attempt. Outcomes are coarse (``http_status``,
``unreachable``, ``private_target``): the exception class goes to the operator's log only
(never the URL, host or address), so the delivery history is no port-scan oracle.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
from collections.abc import Callable

import httpx

from postex.tracking.app.webhooks import (
    SendOutcome,
    host_address,
    is_global_address,
    is_private_host,
)

TIMEOUT_S = 10.0
MAX_ADDRESSES = 2  # checked addresses tried in turn when a connection fails; two connect
# timeouts (2 × TIMEOUT_S) stay within the worker's SEND_BUDGET_S
log = logging.getLogger("postex.webhooks")

Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the resolver's order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class HttpWebhookSender:
    def __init__(
        self,
        allow_private: bool = False,
        timeout: float = TIMEOUT_S,
        resolver: Resolver = resolve,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.allow_private = allow_private
        self.resolver = resolver  # injectable: tests answer differently on each lookup
        self.client = httpx.Client(timeout=timeout, follow_redirects=False, verify=verify)

    def _targets(self, url: httpx.URL) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        """The checked addresses to dial for ``url``; empty when any of them is private."""
        host = url.raw_host.decode("ascii")
        if not self.allow_private and is_private_host(host):
            return []
        literal = host_address(host)
        if literal is not None:
            found = [literal]
        else:
            port = url.port or (443 if url.scheme == "https" else 80)
            found = [ipaddress.ip_address(a.split("%")[0]) for a in self.resolver(host, port)]
        if not self.allow_private and not all(is_global_address(ip) for ip in found):
            return []  # one private answer spoils the name: no choosing the public one
        return found[:MAX_ADDRESSES]

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendOutcome:
        try:
            target = httpx.URL(url)
            if target.scheme not in ("http", "https") or not target.host:
                raise httpx.InvalidURL("not an http(s) URL")
            addresses = self._targets(target)
        except (OSError, UnicodeError, ValueError, httpx.InvalidURL) as exc:
            log.info("webhook attempt failed before connecting: %s", type(exc).__name__)
            return SendOutcome(None, "unreachable")
        if not addresses:
            return SendOutcome(None, "private_target")
        host_header = target.netloc.decode("ascii")  # the name (and port) the URL gave
        for n, ip in enumerate(addresses, 1):
            pinned = target.copy_with(host=str(ip))
            try:
                response = self.client.post(
                    pinned,
                    content=body,
                    headers={**headers, "Host": host_header},
                    extensions={"sni_hostname": target.raw_host.decode("ascii")},
                )
            except httpx.ConnectError as exc:
                log.info("webhook connection failed (%d of %d): %s", n, len(addresses),
                         type(exc).__name__)  # fmt: skip
                continue
            except (httpx.HTTPError, UnicodeError, ValueError) as exc:
                log.info("webhook attempt failed: %s", type(exc).__name__)
                return SendOutcome(None, "unreachable")
            ok = response.is_success
            return SendOutcome(response.status_code, None if ok else "http_status")
        return SendOutcome(None, "unreachable")

    def close(self) -> None:
        self.client.close()
