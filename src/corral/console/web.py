"""What every console handler shares: the templates, the signed-in caller, CSRF checks, and the wrapper that turns
errors into pages.

Invariants:

* A handler learns its workspace only from ``caller(request)``: the key in the session cookie, authenticated by
  the catalog on this very request (the same ``Catalog.authenticate`` the API's gate calls). No key, or one
  the catalog no longer knows, sends the person to the login page with a message saying which.
* Every POST passes ``form(request)``: a body over ``MAX_FORM_BYTES`` is refused (413) and a CSRF token other
  than the session's is refused (403) before anything is read or written.
* Templates autoescape everything (``.html``); nothing a model, tool or user wrote is marked safe.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from corral.compose.services import Services
from corral.console.cookie import COOKIE, MAX_AGE, PATH, ConsoleSession, CookieSealer, fresh
from corral.errors import CorralError, ServerError

MAX_FORM_BYTES = 256 * 1024
TEMPLATES = Environment(
    loader=FileSystemLoader(str(resources.files("corral.console") / "templates")),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

Handler = Callable[[Request], Awaitable[Response]]


class SignIn(Exception):
    """The request needs a signed-in person; ``reason`` is the login page's message key."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Caller:
    services: Services
    workspace: str
    session: ConsoleSession


def services_of(request: Request) -> Services:
    services: Services | None = request.app.state.services
    if services is None:
        raise ServerError("the server is not ready")
    return services


def sealer(request: Request) -> CookieSealer:
    made: CookieSealer | None = getattr(request.app.state, "console_sealer", None)
    if made is None:
        made = CookieSealer(services_of(request).vaults.keyring.active.material)
        request.app.state.console_sealer = made
    return made


def session_of(request: Request) -> ConsoleSession | None:
    return sealer(request).open(request.cookies.get(COOKIE))


async def caller(request: Request) -> Caller:
    session = session_of(request)
    if session is None or session.key is None:
        raise SignIn("signed_out")
    services = services_of(request)
    principal = await services.catalog.authenticate(session.key)
    if principal is None:
        raise SignIn("revoked")
    return Caller(services, principal.workspace_id, session)


async def form(request: Request, session: ConsoleSession) -> FormData:
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > MAX_FORM_BYTES:
        raise Refused(413, f"a console form must send its length and be under {MAX_FORM_BYTES} bytes")
    data = await request.form(max_files=0)
    token = data.get("csrf")
    if not isinstance(token, str) or not hmac.compare_digest(token.encode(), session.csrf.encode()):
        raise Refused(403, "this form is stale or did not come from the console (CSRF check failed): reload the page")
    return data


def invalid(error: ValidationError) -> Refused:
    """A form that the API's request model refuses, as a 400 page naming each problem."""
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
    return Refused(400, f"invalid input: {problems}")


def field(data: FormData, name: str) -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def set_cookie(request: Request, response: Response, session: ConsoleSession) -> None:
    response.set_cookie(
        COOKIE,
        sealer(request).seal(session),
        max_age=MAX_AGE,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    session = context.pop("session", None) or session_of(request)
    made = session is None
    session = session or fresh()
    context.setdefault("signed_in", session.key is not None)
    body = TEMPLATES.get_template(name).render(csrf=session.csrf, path=request.url.path, **context)
    response = HTMLResponse(body, status_code=status)
    if made:
        set_cookie(request, response, session)
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def page(handler: Handler) -> Handler:
    """``handler`` with the console's error pages: sign-in redirects, refusals and corral errors as HTML."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except SignIn as need:
            return redirect(f"{PATH}/login?reason={need.reason}&next={quote(request.url.path)}")
        except Refused as refusal:
            return render(request, "error.html", refusal.status, message=refusal.message)
        except CorralError as error:
            return render(request, "error.html", error.status, message=error.message)

    return wrapped
