"""The floor server of the ``api`` suite (see ``floor``): one JSON route on uvicorn + Starlette, nothing else.

Its own module, never imported by the suite package, so that ``python -m`` runs it without a second copy.
"""

from __future__ import annotations

import sys


def main() -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    port = int(sys.argv[1])

    class Ready(uvicorn.Server):
        async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
            await super().startup(sockets)  # type: ignore[arg-type]
            print("ready", flush=True)

    config = uvicorn.Config(Starlette(routes=[Route("/", hello)]), port=port, log_level="error", access_log=False)
    Ready(config).run()


if __name__ == "__main__":
    main()
