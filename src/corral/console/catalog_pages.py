"""Signing in and out, and the catalog pages: agents (list, create, versions, a diff between two versions, a new
version) and environments (list, create). Writes go through the same catalog calls as ``/v1/agents`` and
``/v1/environments``, with the same request models, so the console accepts exactly what the API accepts."""

from __future__ import annotations

import difflib

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from corral.catalog import AgentFilter
from corral.catalog.params import AgentCreate, AgentUpdate, EnvironmentCreate
from corral.console.cookie import PATH, fresh
from corral.console.timeline import pretty
from corral.console.web import caller, field, form, invalid, page, redirect, render, services_of, session_of, set_cookie
from corral.errors import InvalidRequest
from corral.resources import skills
from corral.vocab.tools import PERMISSION_POLICIES, TOOLSET

REASONS = {
    "signed_out": "Sign in with an API key to use the console.",
    "revoked": "Your API key is no longer accepted (it was revoked or the server's keys changed). Sign in again.",
    "invalid": "That API key is not valid: it is unknown or was revoked.",
    "bye": "You are signed out.",
}
POLICIES = PERMISSION_POLICIES


def _next(value: str) -> str:
    """Only a console path may follow a login (never another site)."""
    return value if value.startswith(PATH + "/") and not value.startswith("//") else f"{PATH}/sessions"


@page
async def login_page(request: Request) -> Response:
    reason = REASONS.get(request.query_params.get("reason", ""), "")
    nxt = _next(request.query_params.get("next", ""))
    return render(request, "login.html", message=reason, next=nxt, signed_in=False)


@page
async def login(request: Request) -> Response:
    session = session_of(request) or fresh()
    data = await form(request, session)
    key = field(data, "api_key")
    if not key or await services_of(request).catalog.authenticate(key) is None:
        return render(request, "login.html", 401, message=REASONS["invalid"], next=_next(field(data, "next")))
    response = redirect(_next(field(data, "next")))
    set_cookie(request, response, fresh(key))  # a new CSRF token with every sign-in
    return response


@page
async def logout(request: Request) -> Response:
    session = session_of(request) or fresh()
    await form(request, session)
    response = redirect(f"{PATH}/login?reason=bye")
    set_cookie(request, response, fresh())
    return response


async def home(request: Request) -> Response:
    return redirect(f"{PATH}/sessions")


def _tools(policy: str) -> list[dict[str, object]]:
    if policy not in POLICIES:
        raise InvalidRequest(f"permission policy must be one of {list(POLICIES)}")
    return [{"type": TOOLSET, "default_config": {"permission_policy": {"type": policy}}}]


@page
async def agents(request: Request) -> Response:
    who = await caller(request)
    result = await who.services.catalog.list_agents(AgentFilter(who.workspace, False, None, None), limit=100, page=None)
    return render(request, "agents.html", agents=result.items, policies=POLICIES, session=who.session)


@page
async def create_agent(request: Request) -> Response:
    who = await caller(request)
    data = await form(request, who.session)
    raw: dict[str, object] = {"name": field(data, "name"), "model": field(data, "model")}
    if field(data, "system"):
        raw["system"] = field(data, "system")
    if field(data, "toolset") == "on":
        raw["tools"] = _tools(field(data, "policy"))
    try:
        body = AgentCreate.model_validate(raw)
    except ValidationError as error:
        raise invalid(error) from None
    await skills.check(who.services.skills, who.workspace, body.skills)
    record = await who.services.catalog.create_agent(who.workspace, body)
    return redirect(f"{PATH}/agents/{record.id}")


def _version(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@page
async def agent(request: Request) -> Response:
    who = await caller(request)
    agent_id = request.path_params["agent_id"]
    latest = await who.services.catalog.get_agent(who.workspace, agent_id)
    versions = await who.services.catalog.list_agent_versions(who.workspace, agent_id, limit=100, page=None)
    new = _version(request.query_params.get("to")) or latest.version
    old = _version(request.query_params.get("from")) or max(new - 1, 1)
    diff: list[str] = []
    if old != new:
        before = await who.services.catalog.get_agent(who.workspace, agent_id, old)
        after = await who.services.catalog.get_agent(who.workspace, agent_id, new)
        diff = list(
            difflib.unified_diff(
                pretty(before.wire()).splitlines(),
                pretty(after.wire()).splitlines(),
                f"version {old}",
                f"version {new}",
                lineterm="",
            )
        )
    return render(
        request,
        "agent.html",
        agent=latest,
        wire=pretty(latest.wire()),
        versions=versions.items,
        old=old,
        new=new,
        diff=diff,
        session=who.session,
    )


@page
async def update_agent(request: Request) -> Response:
    who = await caller(request)
    data = await form(request, who.session)
    agent_id = request.path_params["agent_id"]
    raw: dict[str, object] = {"system": field(data, "system") or None}
    if field(data, "version").isdigit():
        raw["version"] = int(field(data, "version"))
    try:
        body = AgentUpdate.model_validate(raw)
    except ValidationError as error:
        raise invalid(error) from None
    await who.services.catalog.update_agent(who.workspace, agent_id, body)
    return redirect(f"{PATH}/agents/{agent_id}")


@page
async def environments(request: Request) -> Response:
    who = await caller(request)
    result = await who.services.catalog.list_environments(who.workspace, include_archived=False, limit=100, page=None)
    return render(request, "environments.html", environments=result.items, session=who.session)


@page
async def create_environment(request: Request) -> Response:
    who = await caller(request)
    data = await form(request, who.session)
    try:
        body = EnvironmentCreate.model_validate({"name": field(data, "name")})
    except ValidationError as error:
        raise invalid(error) from None
    await who.services.catalog.create_environment(who.workspace, body)
    return redirect(f"{PATH}/environments")
