"""Where the token for an MCP server comes from, and how a token is kept out of everything corral writes.

``McpCredentials`` is the seam to the vaults (api.md §11.3): a credential (``static_bearer`` or ``mcp_oauth``) is
matched to an agent's ``mcp_servers[].url`` by URL, among the vaults the session attached. The vault-backed
implementation lives with the vaults; ``StaticBearers`` (a fixed map, for tests and tools) and ``NO_CREDENTIALS``
are the ones this package ships.

Invariants:

* Only this package asks for a token, and only to put it in the ``Authorization`` header of a request to that
  server's URL; the harness passes the session's id, workspace and vault ids, never a token.
* Everything the MCP client hands back (tool results, tool definitions, error messages) has passed through
  ``corral.secrets.redact`` with every token used for it: a server that echoes the header back cannot get it
  into the log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from corral._types import json_list, json_object
from corral.secrets import MIN_SECRET, redact


class McpCredentials(Protocol):
    async def bearer_for(self, workspace_id: str, vault_ids: Sequence[str], server_url: str) -> str | None:
        """The token to send to the MCP server at ``server_url`` for a session of ``workspace_id`` that attached
        ``vault_ids``; None when none of those vaults holds a credential for that URL."""
        ...

    async def refused(self, workspace_id: str, vault_ids: Sequence[str], server_url: str, token: str) -> str | None:
        """The server answered 401 to ``token``: a fresh token to try once (an OAuth refresh), or None."""
        ...


def server_key(url: str) -> str:
    """A server URL as credentials are matched to it: scheme and host lower-cased, default port and trailing slash
    dropped (``https://MCP.example.com:443/mcp/`` and ``https://mcp.example.com/mcp`` are one server)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path.rstrip("/"), parts.query, ""))


class StaticBearers:
    """Fixed tokens by server URL, whatever the session (tests, and deployments with one tenant)."""

    def __init__(self, tokens: Mapping[str, str]):
        self._tokens = {server_key(url): token for url, token in tokens.items()}

    async def bearer_for(self, workspace_id: str, vault_ids: Sequence[str], server_url: str) -> str | None:
        return self._tokens.get(server_key(server_url))

    async def refused(self, workspace_id: str, vault_ids: Sequence[str], server_url: str, token: str) -> str | None:
        return None


NO_CREDENTIALS = StaticBearers({})
"""No MCP server gets a token: servers that need none work, the others fail with ``mcp_authentication_failed``."""


def redact_json(value: Any, secrets: Sequence[str]) -> Any:
    """``value`` (JSON: dicts, lists, strings …) with every secret in every string (keys included) replaced."""
    if not any(len(secret) >= MIN_SECRET for secret in secrets):
        return value
    if isinstance(value, str):
        return redact(value, secrets)
    if (found := json_object(value)) is not None:
        return {redact(key, secrets): redact_json(item, secrets) for key, item in found.items()}
    if (items := json_list(value)) is not None:
        return [redact_json(item, secrets) for item in items]
    return value
