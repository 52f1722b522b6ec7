"""The outermost HTTP middleware: the access log, request metrics, the request id on every line, ``/metrics``.

It wraps the gate (``corral.api.middleware``), so a request the gate refuses is logged and counted too; the gate
writes the request id into the request's ``state`` after this middleware bound that mapping for the log lines
(``logs.bind_request``). Routes are labelled by their template (``/v1/sessions/{session_id}``), never by their
path, so that the series stay few.

``/metrics`` (this process's Prometheus metrics) is answered here, before the gate, to a request that presents the
bearer token ``CORRAL_METRICS_TOKEN`` (a scraper's credential that is not an API key); any other request goes on
to the gate, where ``/metrics`` is an operator's route (``corral.api.routes.system``): an admin key gets it, a
workspace key 403. ``serve_metrics`` answers a worker's own port (``corral.observe.serve``), which has no gate.

Invariants: nothing of a request's headers, query or body is logged (a key cannot reach the log through here).
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from corral import logs
from corral.observe import metrics

log = logging.getLogger("corral.access")
METRICS_PATH = "/metrics"


class Observed:
    def __init__(self, app: ASGIApp, *, access_log: bool, metrics_token: str | None) -> None:
        self.app = app
        self.access_log = access_log
        self.metrics_token = metrics_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") == METRICS_PATH and self._scraper(scope):
            await _answer_metrics(send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 500
        started = time.monotonic()

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with logs.bind_request(state):
            try:
                await self.app(scope, receive, send_observed)
            finally:
                self._record(scope, status, time.monotonic() - started)

    def _scraper(self, scope: Scope) -> bool:
        presented = _bearer(scope)
        token = self.metrics_token
        return token is not None and presented is not None and hmac.compare_digest(presented.encode(), token.encode())

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method: str = scope.get("method", "")
        route = route_of(scope)
        metrics.http_requests.labels(method, route, str(status)).inc()
        metrics.http_latency.labels(method, route, str(status)).observe(seconds)
        if self.access_log:
            log.info("%s %s %d %.1fms", method, scope.get("path", ""), status, seconds * 1000)


def route_of(scope: Scope) -> str:
    """The template of the route that answered (``unmatched`` when none did)."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "unmatched"


async def serve_metrics(scope: Scope, send: Send, token: str | None) -> None:
    """``/metrics`` for a process without the API (a worker's port): the bearer token only, 404 with none set."""
    if token is None:
        await _answer(send, 404, b'{"type":"error","error":{"type":"not_found_error","message":"Not found"}}')
        return
    presented = _bearer(scope)
    if presented is None or not hmac.compare_digest(presented.encode(), token.encode()):
        await _answer(send, 401, b"metrics: a bearer token (CORRAL_METRICS_TOKEN) is required\n", "text/plain")
        return
    await _answer_metrics(send)


async def _answer_metrics(send: Send) -> None:
    body, content_type = metrics.render()
    await _answer(send, 200, body, content_type)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            scheme, _, token = bytes(value).decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


async def _answer(send: Send, status: int, body: bytes, content_type: str = "application/json") -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
