"""The console's routes, and ``ConsoleDispatch``: the ASGI middleware that hands ``/console`` to them.

Invariants:

* The console is served by the API's own process and reads ``app.state.services`` like every route; it sits in
  front of the API's gate because its pages authenticate by the session cookie, not a header: every handler
  except the login page and the static files calls ``web.caller``, which authenticates the cookie's key with
  the catalog on each request (``corral.console.web``).
* Nothing outside ``/console`` changes: every other path goes to the API (and its gate) untouched.
"""

from __future__ import annotations

from importlib import resources

from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from corral.console import catalog_pages, session_pages
from corral.console.cookie import PATH
from corral.console.stream import stream


def _routes() -> Router:
    static = StaticFiles(directory=str(resources.files("corral.console") / "static"))
    get, post = ["GET", "HEAD"], ["POST"]
    sid = "/sessions/{session_id}"
    return Router(
        [
            Route(PATH, catalog_pages.home, methods=get),
            Route(f"{PATH}/", catalog_pages.home, methods=get),
            Route(f"{PATH}/login", catalog_pages.login_page, methods=get),
            Route(f"{PATH}/login", catalog_pages.login, methods=post),
            Route(f"{PATH}/logout", catalog_pages.logout, methods=post),
            Route(f"{PATH}/agents", catalog_pages.agents, methods=get),
            Route(f"{PATH}/agents", catalog_pages.create_agent, methods=post),
            Route(f"{PATH}/agents/{{agent_id}}", catalog_pages.agent, methods=get),
            Route(f"{PATH}/agents/{{agent_id}}", catalog_pages.update_agent, methods=post),
            Route(f"{PATH}/environments", catalog_pages.environments, methods=get),
            Route(f"{PATH}/environments", catalog_pages.create_environment, methods=post),
            Route(f"{PATH}/sessions", session_pages.sessions, methods=get),
            Route(f"{PATH}/sessions", session_pages.create, methods=post),
            Route(f"{PATH}{sid}", session_pages.session, methods=get),
            Route(f"{PATH}{sid}/stream", stream, methods=get),
            Route(f"{PATH}{sid}/message", session_pages.send_message, methods=post),
            Route(f"{PATH}{sid}/interrupt", session_pages.interrupt, methods=post),
            Route(f"{PATH}{sid}/confirm", session_pages.confirm, methods=post),
            Route(f"{PATH}{sid}/custom-result", session_pages.custom_result, methods=post),
            Mount(f"{PATH}/static", static, name="static"),
        ]
    )


class ConsoleDispatch:
    """Sends ``/console`` and everything under it to the console, every other request to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.console = _routes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and (path == PATH or path.startswith(PATH + "/")):
            await self.console(scope, receive, send)
        else:
            await self.app(scope, receive, send)
