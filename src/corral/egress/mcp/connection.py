"""One exchange with an MCP server over streamable HTTP (the official ``mcp`` SDK), and what its failures mean.

Invariants:

* An exchange connects, does its work (list the tools, or call one) and closes; nothing outlives it. Its requests
  go to the server's URL only (the SDK follows a redirect only within the URL's origin), ignore the proxy
  environment variables, and carry the token in the ``Authorization`` header only.
* Every request is under the egress's address rule (``AddressGuard``, as ``corral.egress.guarded`` applies it to
  the vault's requests): the host is resolved and checked here and the connection goes to the vetted address, so
  an agent cannot point an MCP server at this host, a private network or a metadata address unless the operator
  allows it (``CORRAL_EGRESS_ALLOW_PRIVATE``); a refused address is a connection failure naming the reason.
* A failure leaves as ``Refused`` (the server answered 401 or 403) or ``McpConnectionFailed`` (unreachable, timed
  out, another HTTP error, or not speaking MCP). An error the server reports inside a working exchange (a
  JSON-RPC error to ``tools/call``) is the work's to handle. Messages may hold the server's own words: the
  caller redacts them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar, cast

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from corral.egress.addresses import AddressGuard
from corral.egress.policy import HostPolicy, admit
from corral.egress.policy import Refused as AddressRefused
from corral.errors import McpConnectionFailed

T = TypeVar("T")
CONNECT_TIMEOUT = 10.0
AUTH_STATUSES = (401, 403)


class ServerRef(Protocol):
    """An agent's ``mcp_servers`` entry, as the harness passes it."""

    @property
    def name(self) -> str: ...

    @property
    def url(self) -> str: ...


class GuardedTransport(httpx2.AsyncBaseTransport):
    """``corral.egress.guarded.GuardedTransport`` for the ``httpx2`` client the MCP SDK uses."""

    def __init__(self, guard: AddressGuard):
        self._guard = guard
        self._inner = httpx2.AsyncHTTPTransport(trust_env=False)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            host, address = await admit(HostPolicy(), self._guard, url.host, port)
        except AddressRefused as exc:
            raise httpx2.ConnectError(f"{url.host}: {exc}", request=request) from None
        request.url = url.copy_with(host=address)  # the Host header, set when the request was built, keeps the name
        if url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class Refused(Exception):
    """The server answered 401 or 403: it wants a credential, or does not accept the one sent."""

    def __init__(self, status: int):
        super().__init__(f"HTTP {status}")
        self.status = status


async def exchange(
    server: ServerRef, token: str | None, work: Callable[[Client], Awaitable[T]], seconds: float, guard: AddressGuard
) -> T:
    """Connect to ``server`` (with ``token`` as the bearer, if any), run ``work`` on the connected client, close; all
    within ``seconds``."""
    statuses: list[int] = []

    async def record(response: httpx2.Response) -> None:
        statuses.append(response.status_code)

    headers = {"authorization": f"Bearer {token}"} if token else {}
    http = httpx2.AsyncClient(
        headers=headers,
        transport=GuardedTransport(guard),
        trust_env=False,
        timeout=httpx2.Timeout(seconds, connect=min(CONNECT_TIMEOUT, seconds)),
        event_hooks={"response": [record]},
    )
    try:
        with anyio.fail_after(seconds):
            async with http, Client(streamable_http_client(server.url, http_client=http), cache=None) as client:
                return await work(client)
    except Exception as exc:  # the SDK reports through exception groups; what they hold is sorted out here
        raise failure(server, statuses, exc, seconds) from None


def failure(server: ServerRef, statuses: list[int], exc: Exception, seconds: float) -> Exception:
    refused = [status for status in statuses if status in AUTH_STATUSES]
    if refused:
        return Refused(refused[0])
    where = f"the MCP server {server.name!r} at {server.url}"
    errors = [status for status in statuses if status >= 400]
    if errors:
        return McpConnectionFailed(f"{where} answered HTTP {errors[0]}", server_name=server.name)
    leaf = _first_leaf(exc)
    if isinstance(leaf, TimeoutError):
        reason = f"did not answer within {seconds:g} seconds"
    elif isinstance(leaf, httpx2.TransportError | OSError):
        reason = f"cannot be reached: {type(leaf).__name__}: {leaf}"
    elif isinstance(leaf, MCPError):
        reason = f"failed: {leaf.message}"
    else:
        reason = f"did not answer as an MCP server: {type(leaf).__name__}: {leaf}"
    return McpConnectionFailed(f"{where} {reason}", server_name=server.name)


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup):
        exc = cast(BaseExceptionGroup[BaseException], exc).exceptions[0]
    return exc
