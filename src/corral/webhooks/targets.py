"""Where webhooks may go: HTTPS to public addresses, unless the operator allows private targets.

Invariant: a URL whose host is, or resolves to, a loopback, private, link-local, reserved or multicast address is
refused (at registration, and again before every delivery, so a name re-pointed later is caught) unless
``CORRAL_WEBHOOK_ALLOW_PRIVATE`` is set; plain HTTP is accepted only together with that setting. Redirects are
never followed (a 3xx is a failed attempt).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import anyio

from corral.errors import InvalidRequest


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return ip.is_global and not ip.is_multicast


async def check(url: str, *, allow_private: bool) -> None:
    """Raise a 400 naming what is wrong with ``url`` as a webhook target."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidRequest(f"url: {url!r} is not an absolute http(s) URL")
    if parts.username or parts.password:
        raise InvalidRequest("url: credentials in a webhook URL are not allowed")
    if parts.scheme == "http" and not allow_private:
        raise InvalidRequest("url: webhook URLs must use https (plain http only with CORRAL_WEBHOOK_ALLOW_PRIVATE)")
    if allow_private:
        return
    try:
        found = await anyio.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise InvalidRequest(f"url: cannot resolve {parts.hostname!r}") from exc
    addresses = {str(info[4][0]) for info in found}
    if not addresses or not all(_public(address) for address in addresses):
        raise InvalidRequest(
            f"url: {parts.hostname!r} is a private or loopback address; webhooks go to public addresses only"
            " (an operator may allow private targets with CORRAL_WEBHOOK_ALLOW_PRIVATE)"
        )
