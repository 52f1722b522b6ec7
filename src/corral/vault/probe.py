"""Probing an MCP server with a credential: the ``initialize`` request of MCP's streamable HTTP transport.

The official ``mcp`` SDK is not a dependency of corral (yet), so this is the one JSON-RPC request the probe
needs, sent with httpx: ``POST <mcp_server_url>`` with ``Authorization: Bearer <token>`` and both JSON and
SSE accepted; a 2xx answer carrying the JSON-RPC result of request 1 (as a JSON body or as an SSE ``data:``
line) means the server accepted the token. A session the server opened (``Mcp-Session-Id``) is closed again
with ``DELETE``, as the transport asks of clients that are done.

Invariants: the probe never raises for what the server or network does; what it reports of a failure is a
``Capture`` scrubbed of the token (``corral.vault.oauth.capture``); it reads at most ``READ_MAX`` bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import httpx

from corral import __version__
from corral._types import json_object
from corral.vault.oauth import Capture, capture

READ_MAX = 256 * 1024
PROTOCOL_VERSION = "2025-06-18"
METHOD = "initialize"

ProbeStatus = Literal["ok", "unauthorized", "failed", "unreachable"]


@dataclass(frozen=True)
class ProbeResult:
    status: ProbeStatus
    http_response: Capture | None = None


def _initialize() -> bytes:
    params = {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "corral", "version": __version__},
    }
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": METHOD, "params": params}).encode()


def _answered(body: bytes) -> bool:
    """Whether ``body`` (JSON or SSE) holds a JSON-RPC result for request 1."""
    candidates = [body]
    text = body.decode("utf-8", "replace")
    if not text.lstrip().startswith("{"):
        candidates = [line[5:].strip().encode() for line in text.splitlines() if line.startswith("data:")]
    for candidate in candidates:
        try:
            message = json_object(json.loads(candidate))
        except ValueError:
            continue
        if message is not None and message.get("id") == 1 and "result" in message:
            return True
    return False


async def _read(response: httpx.Response) -> bytes:
    """The body up to ``READ_MAX`` bytes; an SSE answer is read until its first result arrives."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= READ_MAX or (b"data:" in chunk and _answered(b"".join(chunks))):
            break
    return b"".join(chunks)[:READ_MAX]


async def _close_session(http: httpx.AsyncClient, url: str, headers: dict[str, str], session: str | None) -> None:
    if session is None:
        return
    try:
        await http.delete(url, headers={**headers, "mcp-session-id": session})
    except httpx.HTTPError:
        pass  # the server will expire the session itself


async def probe(http: httpx.AsyncClient, url: str, token: str) -> ProbeResult:
    """Send ``initialize`` to the MCP server at ``url`` with ``token``. Never raises."""
    headers = {
        "authorization": f"Bearer {token}",
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": PROTOCOL_VERSION,
    }
    try:
        async with http.stream("POST", url, content=_initialize(), headers=headers) as response:
            body = await _read(response)
            session = response.headers.get("mcp-session-id")
    except (httpx.HTTPError, httpx.InvalidURL):
        return ProbeResult("unreachable")
    await _close_session(http, url, {"authorization": headers["authorization"]}, session)
    if response.is_success and _answered(body):
        return ProbeResult("ok")
    shown = capture(response, body, [token])
    return ProbeResult("unauthorized" if response.status_code == 401 else "failed", shown)
