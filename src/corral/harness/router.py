"""The tool router: one tool call in, one ``ToolResult`` out, whatever runs it.

Routes: a name served by a ``ToolExecutor`` (server-side tools such as ``web_fetch``, wired by the
composition root) goes there; a sandbox tool (``bash read write edit glob grep``) goes to the session's
``Hands``; anything else is answered with an error result. An MCP call (``run_mcp``) goes to the ``ToolSource``
the composition root wired (``corral.egress.mcp``), with the server the call names and the session's
``SessionScope``: the source finds the credential, the harness never holds one.

Invariants:

* A built-in tool's input is checked against its schema (``vocab.tools``) here, once, before any executor or
  sandbox sees it; a call that does not fit is an error result and reaches nothing.
* ``run`` never raises for a failure of the tool: ``ToolError`` (and a sandbox's death) becomes an
  ``is_error`` result the model reads. Cancellation (an interrupt) does propagate.
* Every call carries its ``tool_use_id`` (the id of the ``agent.tool_use`` event), the key of the
  exactly-once journals kept by sandboxes and executors.
* Server-side executors must be safe to call twice with one ``tool_use_id`` (idempotent, or journalled):
  after a crash the harness calls again when the log holds no result. A ``ToolSource`` journals its calls.
* A failure of an MCP server (``McpServerError``) is an error result *and* a ``failure`` the turn reports as a
  ``session.error`` naming the server; the turn goes on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from corral._types import JSONObject
from corral.errors import McpConnectionFailed, McpServerError, ToolError
from corral.sandbox import ToolResult
from corral.sandbox.hands import Hands
from corral.vocab.tools import SANDBOX_TOOLS, input_problem, is_builtin, is_sandbox_tool


@dataclass(frozen=True)
class ToolCall:
    session_id: str
    tool_use_id: str
    name: str
    input: JSONObject
    #: the tool's entry of the agent toolset's ``configs[]`` (allowed domains, limits …)
    config: JSONObject


class ToolExecutor(Protocol):
    """A server-side tool implementation (runs beside the harness, not in the sandbox)."""

    @property
    def names(self) -> frozenset[str]: ...

    async def execute(self, call: ToolCall) -> ToolResult: ...


@dataclass(frozen=True)
class SessionScope:
    """Whose call it is: what a ``ToolSource`` needs to find the session's credentials, never a credential."""

    session_id: str
    workspace_id: str
    vault_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class McpServer:
    """An MCP server the agent declares (``mcp_servers[]``)."""

    name: str
    url: str


class ListedTool(Protocol):
    """A tool definition as its server lists it."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def input_schema(self) -> JSONObject: ...


class ToolSource(Protocol):
    """Tools served by the MCP servers an agent declares: listed for a session, called by name on that server.

    A failure of the server raises ``McpServerError`` (``McpConnectionFailed``, ``McpAuthenticationFailed``);
    ``call_tool`` runs a call at most once per ``tool_use_id``.
    """

    async def list_tools(self, scope: SessionScope, server: McpServer) -> Sequence[ListedTool]: ...

    async def call_tool(self, scope: SessionScope, server: McpServer, call: ToolCall) -> ToolResult: ...


@dataclass(frozen=True)
class McpOutcome:
    result: ToolResult
    #: the server failed (not the tool): reported as a ``session.error`` besides the error result
    failure: McpServerError | None = None


class ToolRouter:
    def __init__(self, hands: Hands | None, executors: Iterable[ToolExecutor] = (), mcp: ToolSource | None = None):
        self._hands = hands
        self._executors = {name: executor for executor in executors for name in executor.names}
        self._mcp = mcp

    @property
    def available(self) -> frozenset[str]:
        """Tool names this worker can run for the session."""
        sandbox = SANDBOX_TOOLS if self._hands is not None else ()
        return frozenset(sandbox) | frozenset(self._executors)

    async def run(self, call: ToolCall) -> ToolResult:
        if is_builtin(call.name) and (problem := input_problem(call.name, call.input)):
            return ToolResult.error(problem)
        try:
            executor = self._executors.get(call.name)
            if executor is not None:
                return await executor.execute(call)
            if is_sandbox_tool(call.name) and self._hands is not None:
                return await self._hands.execute(call.name, call.input, call.tool_use_id)
            return ToolResult.error(f"{call.name}: no executor for this tool is configured on this server")
        except ToolError as exc:
            return ToolResult.error(f"{call.name}: {exc.message}")

    async def run_mcp(self, scope: SessionScope, server: McpServer | None, call: ToolCall) -> McpOutcome:
        """Call tool ``call.name`` of ``server`` (None: the agent no longer declares the server the call named)."""
        if server is None:
            return McpOutcome(ToolResult.error(f"{call.name}: the agent declares no MCP server of this name anymore"))
        try:
            if self._mcp is None:
                raise McpConnectionFailed("this worker has no MCP client configured", server_name=server.name)
            return McpOutcome(await self._mcp.call_tool(scope, server, call))
        except McpServerError as exc:
            return McpOutcome(ToolResult.error(f"{call.name}: {exc.message}"), exc)
        except ToolError as exc:
            return McpOutcome(ToolResult.error(f"{call.name}: {exc.message}"))
