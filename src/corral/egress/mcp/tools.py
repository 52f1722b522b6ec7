"""``McpTools``: the MCP toolsets of agents, run beside the harness and never from a sandbox (api.md §11.3, §19.1).

The composition root hands it to the harness (which never imports ``egress``) as its source of MCP tools: the
harness lists a server's tools for a turn and calls one by name, passing the session's scope (id, workspace,
vault ids); this class finds the token (``McpCredentials``, by the server's URL), talks to the server under the
egress's address rule (``connection``, ``guard``), journals each call (``journal``) and redacts what comes back
(``corral.secrets.redact``).

``async with McpTools(…)`` keeps a connection per (session, server, token) open across calls (``pool``): a call
is then one request to the server, and the turn's listing, made on the same connection, spares the SDK its own
``tools/list`` before each call. Outside ``async with``, every listing and call connects and closes.

Invariants:

* A call runs at most once per ``tool_use_id``, whichever worker asks (``McpJournal``).
* A server failure raises ``McpAuthenticationFailed`` (no credential, or 401/403 even after one refresh) or
  ``McpConnectionFailed``; a recorded failure raises the same again when its call is asked for again. A tool's own
  error (``isError``, or a JSON-RPC error to ``tools/call``) is an error result, not a failure of the server.
* No token appears in anything this class returns, raises or records.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TypeVar

import anyio.to_thread

from corral._types import JSONObject
from corral.db import Database
from corral.egress.addresses import AddressGuard
from corral.egress.mcp.credentials import NO_CREDENTIALS, McpCredentials, redact_json
from corral.egress.mcp.journal import Failure, McpJournal, Outcome
from corral.egress.mcp.pool import IDLE, Connections
from corral.egress.mcp.terms import McpToolDefinition, Refused, ServerRef, failure
from corral.errors import McpAuthenticationFailed, McpConnectionFailed, McpServerError
from corral.sandbox.base import ToolResult
from corral.secrets import redact

if TYPE_CHECKING:
    import mcp.types as types
    from mcp import Client
    from mcp.shared.exceptions import MCPError

T = TypeVar("T")
MAX_PAGES = 100
FAILURES: dict[str, type[McpServerError]] = {
    McpAuthenticationFailed.session_error_type: McpAuthenticationFailed,
    McpConnectionFailed.session_error_type: McpConnectionFailed,
}


class SessionScope(Protocol):
    """Whose call it is: what the harness passes (never a credential)."""

    @property
    def session_id(self) -> str: ...

    @property
    def workspace_id(self) -> str: ...

    @property
    def vault_ids(self) -> Sequence[str]: ...


class McpCall(Protocol):
    """What this class reads from the harness's ``ToolCall``."""

    @property
    def tool_use_id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def input(self) -> JSONObject: ...


@dataclass
class _Tokens:
    """The tokens one exchange used: every one of them is swept from what it returns."""

    used: list[str] = field(default_factory=lambda: list[str]())

    def add(self, token: str | None) -> str | None:
        if token:
            self.used.append(token)
        return token


class McpTools:
    def __init__(
        self,
        db: Database,
        guard: AddressGuard,
        credentials: McpCredentials = NO_CREDENTIALS,
        *,
        timeout: float = 300.0,
        idle: float = IDLE,
    ):
        """``timeout``: for one listing or call; ``idle``: how long an unused connection is kept."""
        self.guard = guard
        self.credentials = credentials
        self.timeout = timeout
        self.journal = McpJournal(db)
        self.connections = Connections(guard, timeout, idle)

    async def __aenter__(self) -> McpTools:
        await self.connections.__aenter__()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.connections.__aexit__(kind, exc, tb)

    async def list_tools(self, scope: SessionScope, server: ServerRef) -> list[McpToolDefinition]:
        await _load_sdk()
        from mcp.shared.exceptions import MCPError

        from corral.egress.mcp.content import definition

        tokens = _Tokens()
        try:
            tools = await self._authorized(scope, server, tokens, _list_all, idempotent=True)
        except MCPError as exc:  # an error answer to ``tools/list``: the server cannot be listed
            raise _swept(_failed(server, exc, self.timeout), tokens.used) from None
        except McpServerError as exc:
            raise _swept(exc, tokens.used) from None
        return [_redacted(definition(tool), tokens.used) for tool in tools]

    async def call_tool(self, scope: SessionScope, server: ServerRef, call: McpCall) -> ToolResult:
        async def run() -> Outcome:
            return await self._call(scope, server, call)

        outcome = await self.journal.run_once(scope.session_id, call.tool_use_id, server.name, call.name, run)
        if outcome.failure is not None:
            raise FAILURES.get(outcome.failure.type, McpConnectionFailed)(
                outcome.failure.message, server_name=server.name
            )
        return outcome.result

    async def _call(self, scope: SessionScope, server: ServerRef, call: McpCall) -> Outcome:
        await _load_sdk()
        from mcp.shared.exceptions import MCPError

        from corral.egress.mcp.content import result_content

        tokens = _Tokens()

        async def work(client: Client) -> ToolResult:
            result = await client.call_tool(call.name, dict(call.input))
            return ToolResult(result_content(result), result.is_error)

        try:
            result = await self._authorized(scope, server, tokens, work)
        except MCPError as exc:  # the server refused the call itself (unknown tool, invalid input …)
            result = ToolResult.error(f"{call.name}: {exc.message}")
        except McpServerError as exc:
            swept = _swept(exc, tokens.used)
            failed = Failure(swept.session_error_type, swept.message)
            return Outcome(ToolResult.error(f"{call.name}: {swept.message}"), failed)
        return Outcome(ToolResult(redact_json(result.content, tokens.used), result.is_error))

    async def _authorized(
        self,
        scope: SessionScope,
        server: ServerRef,
        tokens: _Tokens,
        work: Callable[[Client], Awaitable[T]],
        *,
        idempotent: bool = False,
    ) -> T:
        """``work`` with the session's token for ``server``; once more with a fresh token if the first is refused."""
        vaults = list(scope.vault_ids)
        token = tokens.add(await self.credentials.bearer_for(scope.workspace_id, vaults, server.url))
        try:
            return await self.connections.run(scope.session_id, server, token, work, idempotent=idempotent)
        except Refused as refused:
            fresh = None
            if token is not None:
                fresh = tokens.add(await self.credentials.refused(scope.workspace_id, vaults, server.url, token))
            if fresh is None or fresh == token:
                raise _refusal(server, token, refused) from None
        try:
            return await self.connections.run(scope.session_id, server, fresh, work, idempotent=idempotent)
        except Refused as refused:
            raise _refusal(server, fresh, refused) from None


async def _load_sdk() -> None:
    """Import the modules that use the MCP SDK, in a thread, before the first work that needs them: the SDK costs
    about half a second of CPU, which a process whose agents declare no MCP server never pays, and which must not
    stall the event loop (and every session on it) when one does. Later calls are a lookup."""
    if _SDK_MODULES.issubset(sys.modules):
        return
    await anyio.to_thread.run_sync(_import_sdk)


_SDK_MODULES = frozenset({"corral.egress.mcp.connection", "corral.egress.mcp.content"})


def _import_sdk() -> None:
    for name in sorted(_SDK_MODULES):
        importlib.import_module(name)


async def _list_all(client: Client) -> list[types.Tool]:
    found: list[types.Tool] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        found.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return found


def _redacted(tool: McpToolDefinition, secrets: Sequence[str]) -> McpToolDefinition:
    return McpToolDefinition(
        redact(tool.name, secrets), redact(tool.description, secrets), redact_json(tool.input_schema, secrets)
    )


def _failed(server: ServerRef, exc: MCPError, seconds: float) -> McpServerError:
    failed = failure(server, [], exc, seconds)
    assert isinstance(failed, McpServerError), "no status: a connection failure"
    return failed


def _refusal(server: ServerRef, token: str | None, refused: Refused) -> McpAuthenticationFailed:
    where = f"the MCP server {server.name!r} at {server.url}"
    if token is None:
        message = f"{where} requires a credential ({refused}), and no vault of this session holds one for its URL"
    else:
        message = f"{where} refused the credential of this session's vault for its URL ({refused})"
    return McpAuthenticationFailed(message, server_name=server.name)


def _swept(exc: McpServerError, secrets: Sequence[str]) -> McpServerError:
    return type(exc)(redact(exc.message, secrets), server_name=exc.server_name)
