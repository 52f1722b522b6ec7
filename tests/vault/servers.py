"""Loopback stand-ins for the services a vault talks to: an OAuth token endpoint and an MCP server.

Both are real HTTP servers (``corral.testing.http.ThreadedServer``) that record what they receive. The MCP server
accepts the bearer tokens in ``accepted`` and answers anything else with a 401 whose body echoes the token it
was sent, as careless servers do (what corral shows of that body must not hold it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from corral.testing.http import Request, Responder, ThreadedServer


@dataclass
class Grant:
    """One answer of the token endpoint."""

    status: int
    body: dict[str, Any]


@dataclass
class TokenEndpoint:
    answers: list[Grant] = field(default_factory=lambda: list[Grant]())
    seen: list[Request] = field(default_factory=lambda: list[Request]())

    def form(self, index: int = -1) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.seen[index].body.decode()).items()}

    async def __call__(self, request: Request, respond: Responder) -> None:
        self.seen.append(request)
        answer = self.answers.pop(0) if self.answers else Grant(400, {"error": "invalid_grant"})
        await respond.json(answer.status, answer.body)


@dataclass
class MCPServer:
    accepted: set[str] = field(default_factory=lambda: set[str]())
    sse: bool = False
    seen: list[Request] = field(default_factory=lambda: list[Request]())

    def tokens(self) -> list[str]:
        return [r.headers.get("authorization", "").removeprefix("Bearer ") for r in self.seen if r.method == "POST"]

    async def __call__(self, request: Request, respond: Responder) -> None:
        self.seen.append(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if request.method == "DELETE":
            await respond.send(200, b"", "text/plain")
            return
        if token not in self.accepted:
            await respond.json(401, {"error": "invalid_token", "detail": f"token {token} was refused"})
            return
        message = json.loads(request.body)
        result = {"jsonrpc": "2.0", "id": message["id"], "result": {"protocolVersion": "2025-06-18"}}
        headers = {"mcp-session-id": "s-1"}
        if self.sse:
            await respond.send(
                200, f"event: message\ndata: {json.dumps(result)}\n\n".encode(), "text/event-stream", headers
            )
        else:
            await respond.json(200, result, headers)


def serve(handler: TokenEndpoint | MCPServer) -> ThreadedServer:
    return ThreadedServer(handler)
