"""The mitmproxy addon that enforces egress policy on every request and connection.

Each connection reaching mitmproxy comes from a channel bridge (``server``), which registered its local port,
so the addon knows the sandbox's channel (its policy and session). Then:

* ``CONNECT host:port`` and plain-HTTP requests are admitted by the channel's ``HostPolicy`` and the
  ``AddressGuard`` (DNS resolved here); a refusal is answered ``403`` naming the host (``502`` when the name
  does not resolve), and the vetted address is pinned for that connection;
* a request inside a tunnel, or in absolute form, whose ``Host`` differs from its target is refused;
* TLS inside a tunnel passes through untouched (nothing is intercepted) unless its SNI names another host,
  in which case the upstream connection is refused;
* ``server_connect`` is the last gate: every upstream connection goes to a pinned, vetted address.

Invariant: mitmproxy never opens an upstream connection this addon did not vet. The request path is open to
``RequestHook``s (a later issue injects credentials there); they run after admission, before forwarding.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from mitmproxy import connection, http, tls
from mitmproxy.proxy import server_hooks

from corral.egress.channels import Channel, Channels
from corral.egress.policy import AddressGuard, Refused, admit, normalize_host


@dataclass(frozen=True)
class EgressRequest:
    """What a request hook sees: the sandbox's session (None for a warm sandbox) and the mutable flow."""

    session_id: str | None
    channel_id: str
    flow: http.HTTPFlow


RequestHook = Callable[[EgressRequest], Awaitable[None]]


def refusal(exc: Refused) -> http.Response:
    body = f"corral egress refused this request: {exc}\n".encode()
    return http.Response.make(exc.status, body, {"Content-Type": "text/plain", "X-Corral-Egress": "refused"})


def host_part(authority: str) -> str | None:
    """The normalised host of ``host``, ``host:port`` or ``[v6]:port``."""
    if authority.startswith("["):
        return normalize_host(authority[1 : authority.index("]")]) if "]" in authority else None
    return normalize_host(authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority)


class EgressAddon:
    def __init__(self, channels: Channels, guard: AddressGuard, hooks: Sequence[RequestHook] = ()) -> None:
        self.channels = channels
        self.guard = guard
        self.hooks = tuple(hooks)
        self._tunnels: dict[str, str] = {}  # client connection id → the CONNECT host
        self._pins: dict[tuple[str, str, int], str] = {}  # (client id, host, port) → vetted address
        self._sni_mismatch: set[str] = set()

    def _channel(self, client: connection.Client) -> Channel:
        channel = self.channels.for_peer(client.peername)
        if channel is None:
            raise Refused("this connection did not come through a sandbox egress channel")
        return channel

    async def _admit(self, client: connection.Client, host: str, port: int) -> tuple[Channel, str]:
        channel = self._channel(client)
        name, address = await admit(channel.policy, self.guard, host, port)
        self._pins[(client.id, host, port)] = address
        return channel, name

    async def http_connect(self, flow: http.HTTPFlow) -> None:
        try:
            _, name = await self._admit(flow.client_conn, flow.request.host, flow.request.port)
        except Refused as exc:
            flow.response = refusal(exc)
            return
        self._tunnels[flow.client_conn.id] = name

    async def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.request.method == "CONNECT" or flow.response is not None:
            return
        try:
            self._same_target(flow)
            channel, _ = await self._admit(flow.client_conn, flow.request.host, flow.request.port)
        except Refused as exc:
            flow.response = refusal(exc)
            return
        request = EgressRequest(channel.session_id, channel.channel_id, flow)
        for hook in self.hooks:
            await hook(request)

    def _same_target(self, flow: http.HTTPFlow) -> None:
        target = self._tunnels.get(flow.client_conn.id) or normalize_host(flow.request.host)
        for claimed in (flow.request.host, flow.request.host_header):
            if claimed is not None and host_part(claimed) != target:
                raise Refused(f"the request names {claimed} but goes to {target}")

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        data.ignore_connection = True  # pass TLS through: nothing is intercepted
        client, sni = data.context.client, data.client_hello.sni
        tunnel = self._tunnels.get(client.id)
        if sni and tunnel and normalize_host(sni) != tunnel:
            self._sni_mismatch.add(client.id)

    async def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        client, address = data.client, data.server.address
        if address is None:
            return
        host, port = str(address[0]), int(address[1])
        if client.id in self._sni_mismatch:
            data.server.error = "the TLS server name does not match the CONNECT host"
            return
        pinned = self._pins.get((client.id, host, port))
        if pinned is None:
            try:
                channel = self._channel(client)
                _, pinned = await admit(channel.policy, self.guard, host, port)
            except Refused as exc:
                data.server.error = str(exc)
                return
        data.server.address = (pinned, port)

    def client_disconnected(self, client: connection.Client) -> None:
        self._tunnels.pop(client.id, None)
        self._sni_mismatch.discard(client.id)
        for key in [k for k in self._pins if k[0] == client.id]:
            del self._pins[key]
