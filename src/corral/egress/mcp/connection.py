"""One connection to an MCP server over streamable HTTP (the official ``mcp`` SDK): an MCP client session that a
host task keeps open, the work done on it, and what its failures mean.

Invariants:

* A connection's requests go to the server's URL only (the SDK follows a redirect only within the URL's origin),
  ignore the proxy environment variables, and carry its one token in the ``Authorization`` header only.
* Every request is under the egress's address rule (``AddressGuard``, as ``corral.egress.guarded`` applies it to
  the vault's requests): the host is resolved and checked here and the connection goes to the vetted address, so
  an agent cannot point an MCP server at this host, a private network or a metadata address unless the operator
  allows it (``CORRAL_EGRESS_ALLOW_PRIVATE``); a refused address is a connection failure naming the reason.
* The SDK's tasks live in a host task (``Connection.host``), so the session outlives the work that opened it; the
  host ends when the connection is closed, has been idle for ``idle`` seconds, or breaks (its transport failed).
* Each piece of work records what its own requests did on the wire (``Attempt``, through a context variable that
  the SDK carries from the caller to the task that sends the request): whether any of them may have reached the
  server. A call that may have reached it is never made again (``McpJournal``'s rule); ``Attempt.untouched`` is
  the only licence to try again on another connection.
* A failure leaves as ``Refused`` (the server answered 401 or 403), ``Broken`` (the connection broke or the server
  forgot its session; says whether the work may be tried again) or ``McpConnectionFailed`` (unreachable, timed
  out, another HTTP error, or not speaking MCP). An error the server reports inside a working exchange (a
  JSON-RPC error to ``tools/call``) leaves as the SDK's ``MCPError``: the work's to handle. Messages may hold the
  server's own words: the caller redacts them.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TypeVar

import anyio
import httpx2
from anyio.abc import TaskGroup, TaskStatus
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CONNECTION_CLOSED, INVALID_REQUEST

from corral.egress.addresses import AddressGuard
from corral.egress.mcp.terms import AUTH_STATUSES, SESSION_GONE, Attempt, Broken, Refused, ServerRef, failure
from corral.egress.policy import HostPolicy, admit
from corral.egress.policy import Refused as AddressRefused

T = TypeVar("T")
CONNECT_TIMEOUT = 10.0
#: how long a closing connection may take to say goodbye (the DELETE that ends its MCP session)
CLOSE_TIMEOUT = 5.0
NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)


_ATTEMPT: ContextVar[Attempt | None] = ContextVar("corral_mcp_attempt", default=None)


class GuardedTransport(httpx2.AsyncBaseTransport):
    """``corral.egress.guarded.GuardedTransport`` for the ``httpx2`` client the MCP SDK uses; it also records each
    request in the ``Attempt`` of the work that sent it."""

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
        attempt = _ATTEMPT.get()
        try:
            response = await self._inner.handle_async_request(request)
        except NOT_SENT:
            raise
        except BaseException:  # a write or read that failed midway, or was cancelled: it may have arrived
            if attempt is not None:
                attempt.unanswered += 1
            raise
        if attempt is not None:
            attempt.statuses.append(response.status_code)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class Connection:
    """An MCP client session to ``server`` with ``token``, kept open by ``host`` until closed or idle."""

    def __init__(self, server: ServerRef, token: str | None, guard: AddressGuard, seconds: float, idle: float):
        self.server = server
        self.token = token
        self.guard = guard
        self.seconds = seconds
        self.idle = idle
        self.opening = Attempt()
        self.closed = anyio.Event()
        self._client: Client | None = None
        self._error: BaseException | None = None
        self._closing = anyio.Event()
        self._scope = anyio.CancelScope()
        self._busy = 0
        self._used_at = 0.0

    @property
    def alive(self) -> bool:
        return self._client is not None and not self._closing.is_set()

    async def open(self, tasks: TaskGroup, ended: Callable[[], None] = lambda: None) -> None:
        """Start the host task in ``tasks`` (``ended`` is called when it ends); raises the failure when the
        connection cannot be opened."""
        await tasks.start(self.host, ended)
        if self._client is None:
            raise failure(self.server, self.opening.statuses, self._error or ConnectionError("closed"), self.seconds)

    async def host(
        self, ended: Callable[[], None], *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Open the session, report it started, keep it until closed or idle; never raises."""
        _ATTEMPT.set(self.opening)  # this task's requests (the handshake, the session's stream) are the opening's
        started = False
        self._scope.deadline = anyio.current_time() + self.seconds  # for the handshake only
        try:
            with self._scope:
                async with (
                    self._http() as http,
                    Client(streamable_http_client(self.server.url, http_client=http), cache=None) as client,
                ):
                    self._scope.deadline = math.inf
                    self._client, self._used_at, started = client, anyio.current_time(), True
                    task_status.started()
                    await self._serve()
            if self._scope.cancelled_caught and not started:
                self._error = TimeoutError()
        except Exception as exc:  # the SDK reports through exception groups; ``failure`` sorts them out
            self._error = exc
        finally:
            self._client = None
            self.closed.set()
            ended()
            if not started:
                task_status.started()

    def close(self) -> None:
        """Let the host end (within ``CLOSE_TIMEOUT``); ``closed`` is set once it has."""
        if not self._closing.is_set():
            self._closing.set()
            self._scope.deadline = min(self._scope.deadline, anyio.current_time() + CLOSE_TIMEOUT)

    async def run(self, work: Callable[[Client], Awaitable[T]], attempt: Attempt) -> T:
        """``work`` on this connection within ``seconds``; its requests are recorded in ``attempt``."""
        client = self._client
        if client is None:
            raise Broken(self._failure(attempt, ConnectionError("closed")), attempt.untouched)
        token = _ATTEMPT.set(attempt)
        self._busy += 1
        try:
            with anyio.fail_after(self.seconds):
                return await work(client)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:  # the host's transport broke: why is in the host's error, once it ends
                self.close()
                with anyio.move_on_after(CLOSE_TIMEOUT):
                    await self.closed.wait()
            raise self._sorted(attempt, exc) from None
        except Exception as exc:
            raise self._failure(attempt, exc) from None
        finally:
            self._busy -= 1
            self._used_at = anyio.current_time()
            _ATTEMPT.reset(token)

    def _sorted(self, attempt: Attempt, exc: MCPError) -> Exception:
        """An ``MCPError`` is the server's answer to the work, unless the wire says otherwise."""
        refused = [status for status in attempt.statuses if status in AUTH_STATUSES]
        if refused:
            return Refused(refused[0])
        if exc.code == CONNECTION_CLOSED:
            return Broken(self._failure(attempt, self._error or exc), attempt.untouched)
        if exc.code == INVALID_REQUEST and SESSION_GONE in attempt.statuses:  # the server forgot the session
            self.close()
            return Broken(self._failure(attempt, exc), attempt.untouched)
        return exc

    def _failure(self, attempt: Attempt, exc: BaseException) -> Exception:
        return failure(self.server, attempt.statuses, exc, self.seconds)

    async def _serve(self) -> None:
        while not self._closing.is_set():
            left = self._used_at + self.idle - anyio.current_time()
            if left <= 0 and self._busy == 0:
                return
            with anyio.move_on_after(left if left > 0 else self.idle):
                await self._closing.wait()

    def _http(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            headers={"authorization": f"Bearer {self.token}"} if self.token else {},
            transport=GuardedTransport(self.guard),
            trust_env=False,
            timeout=httpx2.Timeout(self.seconds, connect=min(CONNECT_TIMEOUT, self.seconds)),
        )
