"""An HTTP client for the requests corral itself makes to addresses a user named (an OAuth token endpoint, an
MCP server, a validation probe): under the egress's address rule, like every request out of a sandbox.

Invariants: the host is resolved here and checked with ``AddressGuard`` (globally routable, off this host's
networks, unless the operator's ``CORRAL_EGRESS_ALLOW_PRIVATE`` admits it); the connection goes to the vetted
address (``Host`` and TLS still carry the name), so a DNS answer that changes between check and connect cannot
redirect it; a refused address is an ``httpx.ConnectError`` naming the reason, which callers already handle as
"unreachable". Redirects are not followed (each hop would need its own check).
"""

from __future__ import annotations

import logging

import httpx

from corral.egress.addresses import AddressGuard
from corral.egress.policy import HostPolicy, Refused, admit
from corral.observe import metrics

log = logging.getLogger("corral.egress")


class GuardedTransport(httpx.AsyncBaseTransport):
    def __init__(self, guard: AddressGuard, inner: httpx.AsyncBaseTransport | None = None):
        self._guard = guard
        self._inner = inner or httpx.AsyncHTTPTransport(trust_env=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            host, address = await admit(HostPolicy(), self._guard, url.host, port)
        except Refused as exc:
            metrics.egress_refusals.inc()
            log.warning("egress refused a server-side request: %s: %s", url.host, exc)
            raise httpx.ConnectError(f"{url.host}: {exc}", request=request) from None
        request.url = url.copy_with(host=address)  # the Host header, set when the request was built, keeps the name
        if url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def guarded_client(guard: AddressGuard, *, timeout: float = 30.0) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose every request is under ``guard`` (and ignores proxy variables)."""
    return httpx.AsyncClient(transport=GuardedTransport(guard), timeout=timeout, trust_env=False)
