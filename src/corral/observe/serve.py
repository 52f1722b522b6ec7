"""``serving_metrics(host, port, token)``: a worker process's own ``/metrics`` (``corral worker --metrics-port``).

A worker has no API; its metrics are served on a port of its own, with the same token as the API's
``/metrics`` (``CORRAL_METRICS_TOKEN``) and the same refusals.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncGenerator, Generator
from contextlib import asynccontextmanager, contextmanager
from functools import partial

import anyio
import uvicorn
from starlette.types import Receive, Scope, Send

from corral.observe.http import METRICS_PATH
from corral.observe.http import serve_metrics as answer


class _Server(uvicorn.Server):
    """Without uvicorn's signal handling: the worker's own handles SIGTERM (and hands its sessions over)."""

    @contextmanager
    def capture_signals(self) -> Generator[None]:
        yield


@asynccontextmanager
async def serving_metrics(host: str, port: int, token: str | None) -> AsyncGenerator[None]:
    """Serve ``/metrics`` on ``host:port`` while inside; on the way out the server stops (gracefully)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await answer(scope, send, token if scope.get("path") == METRICS_PATH else None)

    server = _Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    with socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        # listening before serving starts: a scrape that comes first waits in the backlog, a taken port fails here
        async with anyio.create_task_group() as group:
            group.start_soon(partial(server.serve, sockets=[sock]))
            try:
                yield
            finally:
                server.should_exit = True  # serve() returns within its tick; the group waits for it
