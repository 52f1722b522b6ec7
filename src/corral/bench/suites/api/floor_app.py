"""The floor server of the ``api`` suite (see ``floor``): bare uvicorn + Starlette, nothing of corral's.

Routes: ``GET /`` (one small JSON body) and ``POST /v1/sessions/{id}/events`` (parses the JSON body and answers with
one stored-event-like object per event sent: what an ingestion endpoint does at the least). uvicorn is configured as
``corral serve`` configures it (keep-alive, backlog, no access log), so a ratio against it is corral's own cost.

Its own module, never imported by the suite package, so that ``python -m`` runs it without a second copy.
"""

from __future__ import annotations

import sys
import uuid
from typing import cast


def main() -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def events(request: Request) -> JSONResponse:
        # the suite's own request body (``floor.INGEST_BODY``): parsed as corral parses it, trusted as sent
        sent = cast(dict[str, list[dict[str, object]]], await request.json())["events"]
        return JSONResponse({"data": [{**event, "id": f"sevt_{uuid.uuid4().hex}"} for event in sent]})

    port = int(sys.argv[1])

    class Ready(uvicorn.Server):
        async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
            await super().startup(sockets)  # type: ignore[arg-type]
            print("ready", flush=True)

    app = Starlette(routes=[Route("/", hello), Route("/v1/sessions/{session_id}/events", events, methods=["POST"])])
    # as ``corral serve`` (corral.cli.serve) configures uvicorn
    config = uvicorn.Config(
        app,
        port=port,
        log_level="error",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=75,
        backlog=4096,
    )
    Ready(config).run()


if __name__ == "__main__":
    main()
