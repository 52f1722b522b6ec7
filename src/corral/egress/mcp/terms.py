"""The MCP client's terms that need no MCP SDK: a server as the harness names it, a tool as a server lists it, what
one piece of work did on the wire, and what a failure means (``failure``).

Light on purpose: a process imports these (the composition root builds ``McpTools`` at start) without loading the
MCP SDK, which ``McpTools`` loads, in a thread, only when an agent's MCP server is first used. ``failure`` is
only called after a connection was tried, so the SDK is loaded by then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, cast

from corral._types import JSONObject
from corral.errors import McpConnectionFailed

AUTH_STATUSES = (401, 403)
SESSION_GONE = 404


@dataclass(frozen=True)
class McpToolDefinition:
    """A tool as an MCP server lists it."""

    name: str
    description: str
    input_schema: JSONObject


class ServerRef(Protocol):
    """An agent's ``mcp_servers`` entry, as the harness passes it."""

    @property
    def name(self) -> str: ...

    @property
    def url(self) -> str: ...


@dataclass
class Attempt:
    """What the requests of one piece of work did: the HTTP statuses they got, and how many left without an
    answer (the server may have acted on those)."""

    statuses: list[int] = field(default_factory=lambda: list[int]())
    unanswered: int = 0

    @property
    def untouched(self) -> bool:
        """No request of this work can have reached a tool: none was answered but with "no such session"."""
        return self.unanswered == 0 and all(status == SESSION_GONE for status in self.statuses)


class Refused(Exception):
    """The server answered 401 or 403: it wants a credential, or does not accept the one sent."""

    def __init__(self, status: int):
        super().__init__(f"HTTP {status}")
        self.status = status


class Broken(Exception):
    """The connection broke under the work, or the server forgot its session: ``untouched`` says whether no
    request of the work can have reached a tool (then it may be tried again on another connection)."""

    def __init__(self, failure: Exception, untouched: bool):
        super().__init__(str(failure))
        self.failure = failure
        self.untouched = untouched


def failure(server: ServerRef, statuses: list[int], exc: BaseException, seconds: float) -> Exception:
    refused = [status for status in statuses if status in AUTH_STATUSES]
    if refused:
        return Refused(refused[0])
    where = f"the MCP server {server.name!r} at {server.url}"
    errors = [status for status in statuses if status >= 400]
    if errors:
        return McpConnectionFailed(f"{where} answered HTTP {errors[0]}", server_name=server.name)
    import httpx2  # loaded with the SDK (see the module docstring)
    from mcp.shared.exceptions import MCPError

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
