"""The mitmproxy addon that enforces egress policy on every request and connection.

Each connection reaching mitmproxy comes from a channel bridge (``server``), which registered its local port,
so the addon knows the sandbox's channel (its policy and session). Then:

* ``CONNECT host:port`` and plain-HTTP requests are admitted by the channel's ``HostPolicy`` and the
  ``AddressGuard`` (DNS resolved here); a refusal is answered ``403`` naming the host (``502`` when the name
  does not resolve), and the vetted address is pinned for that client connection (later requests on it are
  not resolved again);
* a request inside a tunnel, or in absolute form, whose ``Host`` differs from its target is refused;
* TLS inside a tunnel passes through untouched unless the channel holds a credential whose allowed hosts
  match the tunnel's host, or an ``https`` repository on it: then it is terminated with the deployment's CA
  (``mitm``) so that ``injection`` can apply; an SNI that names another host than the tunnel's gets the upstream
  connection refused;
* on a channel with credentials, requests to a credential's allowed hosts get its placeholder replaced in
  the enabled locations (``injection``; never the URL), requests for one of the session's repositories get its
  token as ``Authorization`` (``repositories``: that host, scheme and repository path only, never over a header
  the sandbox sent), both are asked for an unencoded answer, and every response relayed has the channel's
  secrets masked out of its header values and body;
* ``server_connect`` is the last gate: every upstream connection goes to a pinned, vetted address; once
  connected it is named by its host again (``server_connected``), so later requests to that host reuse it.

Invariants: mitmproxy never opens an upstream connection this addon did not vet; a channel without
credentials has its TLS passed through and its requests and responses untouched but for the policy. The
request path is open to ``RequestHook``s; they run after admission, before injection and forwarding.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import cast

from mitmproxy import connection, http, tls
from mitmproxy.proxy import server_hooks

from corral.egress import injection, repositories
from corral.egress.channels import Channel, Channels
from corral.egress.injection import Injection, StreamRedactor
from corral.egress.policy import AddressGuard, Refused, admit, normalize_host
from corral.observe import metrics

log = logging.getLogger("corral.egress")


@dataclass(frozen=True)
class EgressRequest:
    """What a request hook sees: the sandbox's session (None for a warm sandbox) and the mutable flow."""

    session_id: str | None
    channel_id: str
    flow: http.HTTPFlow


RequestHook = Callable[[EgressRequest], Awaitable[None]]
_INJECT = "corral-injections"
_REDACT = "corral-redactor"


def _encoded(fields: tuple[tuple[bytes, bytes], ...]) -> bool:
    return any(k.lower() == b"content-encoding" and v.strip().lower() not in (b"", b"identity") for k, v in fields)


def _applicable(flow: http.HTTPFlow) -> tuple[Injection, ...]:
    found = flow.metadata.get(_INJECT)
    return cast(tuple[Injection, ...], found) if isinstance(found, tuple) else ()


def refusal(exc: Refused) -> http.Response:
    metrics.egress_refusals.inc()
    log.warning("egress refused a request: %s", exc)
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
        self._named: dict[str, tuple[str, int]] = {}  # server connection id → the host:port it was asked for

    def _channel(self, client: connection.Client) -> Channel:
        channel = self.channels.for_peer(client.peername)
        if channel is None:
            raise Refused("this connection did not come through a sandbox egress channel")
        return channel

    async def _admit(self, client: connection.Client, host: str, port: int) -> tuple[Channel, str]:
        channel = self._channel(client)
        if (client.id, host, port) in self._pins and (name := normalize_host(host)) is not None:
            return channel, name  # admitted on this client connection already: its address stays pinned
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
        if channel.injections:
            self._inject_headers(flow, injection.for_host(channel.injections, self._target(flow)))
        if channel.repositories:
            self._authorize(flow, channel)

    def _target(self, flow: http.HTTPFlow) -> str:
        return self._tunnels.get(flow.client_conn.id) or normalize_host(flow.request.host) or ""

    def _inject_headers(self, flow: http.HTTPFlow, applicable: tuple[Injection, ...]) -> None:
        flow.metadata[_INJECT] = applicable
        flow.request.headers["Accept-Encoding"] = "identity"  # so that the answer can be redacted
        in_headers = [i for i in applicable if i.header]
        if in_headers:
            fields = flow.request.headers.fields
            flow.request.headers.fields = tuple((k, injection.substitute(v, in_headers)) for k, v in fields)

    def _authorize(self, flow: http.HTTPFlow, channel: Channel) -> None:
        """Add the token of the repository this request is for (``repositories``: never over another header)."""
        request = flow.request
        token = repositories.for_request(
            channel.repositories, request.scheme, self._target(flow), request.port, request.path
        )
        if token is not None and "authorization" not in request.headers:
            request.headers["Authorization"] = token.authorization
            request.headers["Accept-Encoding"] = "identity"  # so that the answer can be redacted

    def request(self, flow: http.HTTPFlow) -> None:
        """The body is in: inject into it where enabled (a streamed body passes as it is)."""
        in_body = [i for i in _applicable(flow) if i.body]
        if not in_body or flow.request.stream or flow.response is not None:
            return
        content = flow.request.get_content(strict=False)
        if content:
            replaced = injection.substitute(content, in_body)
            if replaced != content:
                flow.request.set_content(replaced)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        channel = self.channels.for_peer(flow.client_conn.peername)
        if channel is None or not channel.secrets or flow.response is None:
            return
        redactor = StreamRedactor([secret.encode() for secret in channel.secrets])
        response = flow.response
        response.headers.fields = tuple((k, redactor.redact(v)) for k, v in response.headers.fields)
        if not _encoded(response.headers.fields):
            response.stream = redactor
        else:  # asked for identity but encoded anyway: redacted whole, once decoded (``response``)
            flow.metadata[_REDACT] = redactor

    def response(self, flow: http.HTTPFlow) -> None:
        redactor = flow.metadata.get(_REDACT)
        if isinstance(redactor, StreamRedactor) and flow.response is not None and not flow.response.stream:
            content = flow.response.get_content(strict=False)
            if content:
                flow.response.set_content(redactor.redact(content))

    def _same_target(self, flow: http.HTTPFlow) -> None:
        target = self._tunnels.get(flow.client_conn.id) or normalize_host(flow.request.host)
        for claimed in (flow.request.host, flow.request.host_header):
            if claimed is not None and host_part(claimed) != target:
                raise Refused(f"the request names {claimed} but goes to {target}")

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        client, sni = data.context.client, data.client_hello.sni
        tunnel = self._tunnels.get(client.id)
        if sni and tunnel and normalize_host(sni) != tunnel:
            self._sni_mismatch.add(client.id)
        channel = self.channels.for_peer(client.peername)
        host = tunnel or (normalize_host(sni) if sni else None)
        # terminate TLS only where a credential may be injected; everything else passes through untouched
        data.ignore_connection = not (
            channel
            and host
            and (injection.for_host(channel.injections, host) or repositories.on_host(channel.repositories, host))
        )

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
        self._named[data.server.id] = (host, port)
        data.server.address = (pinned, port)

    def server_connected(self, data: server_hooks.ServerConnectionHookData) -> None:
        # Connected to the pinned address: name the connection by its host again, as the requests do, so that
        # mitmproxy reuses it for the next request to that host (it matches connections by address) instead of
        # opening one per request — and, past its five per host, waiting forever for one to close. Only the
        # label changes (mitmproxy's setter refuses any change on an open connection, meant for a reconnect).
        named = self._named.pop(data.server.id, None)
        if named is not None:
            vars(data.server)["address"] = named

    def server_connect_error(self, data: server_hooks.ServerConnectionHookData) -> None:
        self._named.pop(data.server.id, None)

    def client_disconnected(self, client: connection.Client) -> None:
        self._tunnels.pop(client.id, None)
        self._sni_mismatch.discard(client.id)
        for key in [k for k in self._pins if k[0] == client.id]:
            del self._pins[key]
