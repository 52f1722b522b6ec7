"""The authorization matrix: every route and verb of the live application, with another workspace's key and
without a valid key.

The real app runs in process on each engine (one app per engine for the whole matrix). Workspace A makes one of
every kind of object with its own key; then, for every route the app serves (read from ``app.routes``, so a new
route that is not in ``ROUTES`` fails the test until it is given a row):

* workspace B's key on A's objects gets 404 (``not_found_error``), B's lists show none of A's objects, B's creates
  land in B's workspace, the operator routes answer B 403; and A's view of its objects is the same afterwards;
* a missing key, an invalid key and a revoked key each get 401 (``authentication_error``) on every route but the
  two public ones (``/healthz``, ``/openapi.json``).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import httpx
import pytest
from fastapi import FastAPI

from corral.api.app import create_app
from corral.catalog import Catalog
from corral.config import Settings
from tests.conftest import database_url

pytestmark = pytest.mark.anyio

ADMIN = "sk-corral-matrix-admin"
Expect = Literal["404", "403", "own", "public"]
SKILL = [("files[]", ("m/SKILL.md", b"---\nname: m\ndescription: d\n---\n"))]
BEARER = {"type": "static_bearer", "mcp_server_url": "https://b.example.com/mcp", "token": "t"}
REPO = {"type": "github_repository", "url": "https://git.example/acme/widgets", "authorization_token": "t"}


@dataclass(frozen=True)
class Row:
    """What B sends on a route (``{name}`` in ``json`` and the path are A's ids) and what B must get."""

    expect: Expect
    json: Any = None
    multipart: bool = False  # a file or skill upload
    params: dict[str, str] | None = None
    #: path parameters filled from other ids than their own name (the work routes: A's self_hosted environment)
    aliases: tuple[tuple[str, str], ...] = ()


S, MS, V = "/v1/sessions/{session_id}", "/v1/memory_stores/{memory_store_id}", "/v1/vaults/{vault_id}"
SK, D = "/v1/skills/{skill_id}", "/v1/deployments/{deployment_id}"
MESSAGE = {"type": "user.message", "content": [{"type": "text", "text": "hi"}]}
SCHEDULE = {"type": "cron", "expression": "0 9 * * 1-5", "timezone": "Europe/Paris"}
ENV = "{environment_id}"
DEPLOYMENT = {"initial_events": [MESSAGE], "name": "d", "schedule": SCHEDULE}
W = "/v1/environments/{environment_id}"  # the work routes: poll, list, ack and heartbeat take a worker's
# credential (an environment key), so any API key gets 403 there, whatever the environment; the rest are 404 to B
HOSTED = (("environment_id", "hosted_environment_id"), ("key_id", "environment_key_id"))
ROUTES: dict[tuple[str, str], Row] = {
    ("GET", "/healthz"): Row("public"),
    ("GET", "/openapi.json"): Row("public"),
    ("GET", "/v1/corral/stats"): Row("403"),
    ("GET", "/metrics"): Row("403"),
    ("GET", "/v1/corral/keys"): Row("403"),
    ("POST", "/v1/corral/keys"): Row("403", {"workspace": "team-a"}),
    ("POST", "/v1/corral/keys/{key_id}/revoke"): Row("403"),
    ("POST", W + "/keys"): Row("404", {"name": "b"}, aliases=HOSTED),
    ("GET", W + "/keys"): Row("404", aliases=HOSTED),
    ("POST", W + "/keys/{key_id}/revoke"): Row("404", aliases=HOSTED),
    ("GET", W + "/work"): Row("403", aliases=HOSTED),
    ("GET", W + "/work/poll"): Row("403", aliases=HOSTED),
    ("GET", W + "/work/stats"): Row("404", aliases=HOSTED),
    ("GET", W + "/work/{work_id}"): Row("404", aliases=HOSTED),
    ("POST", W + "/work/{work_id}"): Row("404", {"metadata": {"b": "b"}}, aliases=HOSTED),
    ("POST", W + "/work/{work_id}/ack"): Row("403", aliases=HOSTED),
    ("POST", W + "/work/{work_id}/heartbeat"): Row("403", params={"expected_last_heartbeat": "x"}, aliases=HOSTED),
    ("POST", W + "/work/{work_id}/stop"): Row("404", {"force": True}, aliases=HOSTED),
    ("POST", "/v1/corral/webhooks"): Row("own", {"url": "http://127.0.0.1:9/b"}),
    ("GET", "/v1/corral/webhooks"): Row("own"),
    ("GET", "/v1/corral/webhooks/{endpoint_id}"): Row("404"),
    ("DELETE", "/v1/corral/webhooks/{endpoint_id}"): Row("404"),
    ("POST", "/v1/deployments"): Row("404", {**DEPLOYMENT, "agent": "{agent_id}", "environment_id": ENV}),
    ("GET", "/v1/deployments"): Row("own"),
    ("GET", D): Row("404"),
    ("POST", D): Row("404", {"description": "b"}),
    ("POST", D + "/archive"): Row("404"),
    ("POST", D + "/pause"): Row("404"),
    ("POST", D + "/unpause"): Row("404"),
    ("POST", D + "/run"): Row("404"),
    ("GET", "/v1/deployment_runs"): Row("own"),
    ("GET", "/v1/deployment_runs/{deployment_run_id}"): Row("404"),
    ("POST", "/v1/agents"): Row("own", {"name": "b", "model": "claude-m"}),
    ("GET", "/v1/agents"): Row("own"),
    ("GET", "/v1/agents/{agent_id}"): Row("404"),
    ("POST", "/v1/agents/{agent_id}"): Row("404", {"version": 1, "description": "b"}),
    ("POST", "/v1/agents/{agent_id}/archive"): Row("404"),
    ("GET", "/v1/agents/{agent_id}/versions"): Row("404"),
    ("POST", "/v1/environments"): Row("own", {"name": "b"}),
    ("GET", "/v1/environments"): Row("own"),
    ("GET", "/v1/environments/{environment_id}"): Row("404"),
    ("POST", "/v1/environments/{environment_id}"): Row("404", {"description": "b"}),
    ("POST", "/v1/environments/{environment_id}/archive"): Row("404"),
    ("DELETE", "/v1/environments/{environment_id}"): Row("404"),
    ("POST", "/v1/sessions"): Row("404", {"agent": "{agent_id}", "environment_id": "{environment_id}"}),
    ("GET", "/v1/sessions"): Row("own"),
    ("GET", S): Row("404"),
    ("POST", S): Row("404", {"title": "b"}),
    ("POST", S + "/archive"): Row("404"),
    ("DELETE", S): Row("404"),
    ("POST", S + "/resources"): Row("404", {"type": "file", "file_id": "{file_id}"}),
    ("GET", S + "/resources"): Row("404"),
    ("GET", S + "/resources/{resource_id}"): Row("404"),
    ("POST", S + "/resources/{resource_id}"): Row("404", {"authorization_token": "b"}),
    ("DELETE", S + "/resources/{resource_id}"): Row("404"),
    ("POST", S + "/events"): Row("404", {"events": [{"type": "user.interrupt"}]}),
    ("GET", S + "/events"): Row("404"),
    ("GET", S + "/events/stream"): Row("404"),
    ("GET", S + "/threads"): Row("404"),
    ("GET", S + "/threads/{thread_id}"): Row("404"),
    ("POST", S + "/threads/{thread_id}/archive"): Row("404"),
    ("GET", S + "/threads/{thread_id}/events"): Row("404"),
    ("GET", S + "/threads/{thread_id}/stream"): Row("404"),
    ("POST", "/v1/vaults"): Row("own", {"display_name": "b"}),
    ("GET", "/v1/vaults"): Row("own"),
    ("GET", V): Row("404"),
    ("POST", V): Row("404", {"display_name": "b"}),
    ("DELETE", V): Row("404"),
    ("POST", V + "/archive"): Row("404"),
    ("POST", V + "/credentials"): Row("404", {"auth": {**BEARER, "mcp_server_url": "https://c.example.com/mcp"}}),
    ("GET", V + "/credentials"): Row("404"),
    ("GET", V + "/credentials/{credential_id}"): Row("404"),
    ("POST", V + "/credentials/{credential_id}"): Row("404", {"display_name": "b"}),
    ("DELETE", V + "/credentials/{credential_id}"): Row("404"),
    ("POST", V + "/credentials/{credential_id}/archive"): Row("404"),
    ("POST", V + "/credentials/{credential_id}/mcp_oauth_validate"): Row("404"),
    ("POST", "/v1/files"): Row("own", multipart=True),
    ("GET", "/v1/files"): Row("own"),
    ("GET", "/v1/files/{file_id}"): Row("404"),
    ("GET", "/v1/files/{file_id}/content"): Row("404"),
    ("DELETE", "/v1/files/{file_id}"): Row("404"),
    ("POST", "/v1/memory_stores"): Row("own", {"name": "b"}),
    ("GET", "/v1/memory_stores"): Row("own"),
    ("GET", MS): Row("404"),
    ("POST", MS): Row("404", {"description": "b"}),
    ("DELETE", MS): Row("404"),
    ("POST", MS + "/archive"): Row("404"),
    ("POST", MS + "/memories"): Row("404", {"path": "/b.md", "content": "b"}),
    ("GET", MS + "/memories"): Row("404"),
    ("GET", MS + "/memories/{memory_id}"): Row("404"),
    ("POST", MS + "/memories/{memory_id}"): Row("404", {"content": "b"}),
    ("PATCH", MS + "/memories/{memory_id}"): Row("404", {"path": "/z.md"}),
    ("DELETE", MS + "/memories/{memory_id}"): Row("404"),
    ("GET", MS + "/memory_versions"): Row("404"),
    ("GET", MS + "/memory_versions/{memory_version_id}"): Row("404"),
    ("POST", MS + "/memory_versions/{memory_version_id}/redact"): Row("404"),
    ("POST", "/v1/skills"): Row("own", multipart=True),
    ("GET", "/v1/skills"): Row("own"),
    ("GET", SK): Row("404"),
    ("DELETE", SK): Row("404"),
    ("POST", SK + "/versions"): Row("404", multipart=True),
    ("GET", SK + "/versions"): Row("404"),
    ("GET", SK + "/versions/{version}"): Row("404"),
    ("DELETE", SK + "/versions/{version}"): Row("404"),
    ("GET", SK + "/versions/{version}/content"): Row("404"),
}


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every ``(method, path)`` the app serves (HEAD aside: Starlette adds it to every GET)."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)  # an included router: its routes
        for entry in list(contexts()) if contexts is not None else [route]:
            methods: set[str] = set(getattr(entry, "methods", None) or ())
            found |= {(method, str(getattr(entry, "path", ""))) for method in methods - {"HEAD"}}
    return found


@dataclass
class World:
    app: FastAPI
    a: httpx.AsyncClient
    b: httpx.AsyncClient
    keys: dict[str, str]  # missing / invalid / revoked → the key presented ("" sends none)
    ids: dict[str, str]


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {key: fill(item, ids) for key, item in cast(dict[str, Any], value).items()}
    if isinstance(value, list):
        return [fill(item, ids) for item in cast(list[Any], value)]
    return value


def test_every_served_route_has_a_row(tmp_path: Path) -> None:
    served = served_routes(create_app(Settings(data_dir=tmp_path)))
    assert sorted(served - set(ROUTES)) == [], "routes the matrix does not list: give each a row in ROUTES"
    assert sorted(set(ROUTES) - served) == [], "rows of routes the app no longer serves"


def client(app: FastAPI, key: str | None) -> httpx.AsyncClient:
    headers = {"x-api-key": key} if key else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://corral", headers=headers)


async def made(http: httpx.AsyncClient, path: str, **kwargs: Any) -> dict[str, Any]:
    response = await http.post(path, **kwargs)
    assert response.status_code == 200, (path, response.text)
    return cast(dict[str, Any], response.json())


async def objects_of(a: httpx.AsyncClient) -> dict[str, str]:
    """One object of every kind in A's workspace; their ids by path parameter name."""
    ids: dict[str, str] = {}
    ids["agent_id"] = (await made(a, "/v1/agents", json={"name": "a", "model": "claude-m"}))["id"]
    ids["environment_id"] = (await made(a, "/v1/environments", json={"name": "a"}))["id"]
    session = await made(a, "/v1/sessions", json={"agent": ids["agent_id"], "environment_id": ids["environment_id"]})
    ids["session_id"] = session["id"]
    ids["thread_id"] = (await a.get(f"/v1/sessions/{session['id']}/threads")).json()["data"][0]["id"]
    ids["file_id"] = (await made(a, "/v1/files", files={"file": ("a.txt", b"a", "text/plain")}))["id"]
    ids["resource_id"] = (await made(a, f"/v1/sessions/{session['id']}/resources", json=REPO))["id"]
    ids["vault_id"] = (await made(a, "/v1/vaults", json={"display_name": "a"}))["id"]
    ids["credential_id"] = (await made(a, f"/v1/vaults/{ids['vault_id']}/credentials", json={"auth": BEARER}))["id"]
    ids["memory_store_id"] = (await made(a, "/v1/memory_stores", json={"name": "a"}))["id"]
    memories = f"/v1/memory_stores/{ids['memory_store_id']}/memories"
    ids["memory_id"] = (await made(a, memories, json={"path": "/a.md", "content": "a"}))["id"]
    versions = await a.get(f"/v1/memory_stores/{ids['memory_store_id']}/memory_versions")
    ids["memory_version_id"] = versions.json()["data"][0]["id"]
    ids["skill_id"] = (await made(a, "/v1/skills", files=SKILL))["id"]
    ids["version"] = (await made(a, f"/v1/skills/{ids['skill_id']}/versions", files=SKILL))["id"]
    hosted = (await made(a, "/v1/environments", json={"name": "h", "config": {"type": "self_hosted"}}))["id"]
    ids["hosted_environment_id"] = hosted
    await made(a, "/v1/sessions", json={"agent": ids["agent_id"], "environment_id": hosted})  # queues its work
    environment_key = await made(a, f"/v1/environments/{hosted}/keys", json={"name": "a"})
    ids["environment_key_id"] = environment_key["id"]
    listed = await a.get(f"/v1/environments/{hosted}/work", headers={"x-api-key": environment_key["key"]})
    ids["work_id"] = listed.json()["data"][0]["id"]
    deployment = {**DEPLOYMENT, "agent": ids["agent_id"], "environment_id": ids["environment_id"]}
    ids["deployment_id"] = (await made(a, "/v1/deployments", json=deployment))["id"]
    ids["deployment_run_id"] = (await made(a, f"/v1/deployments/{ids['deployment_id']}/run"))["id"]
    # last, so that none of A's events is due to it (its deliveries go to the discard port of loopback)
    ids["endpoint_id"] = (await made(a, "/v1/corral/webhooks", json={"url": "http://127.0.0.1:9/a"}))["id"]
    return ids


CLOCK = frozenset({"duration_seconds", "active_seconds"})  # a session's age and run time: the clock's


def steady(response: httpx.Response) -> bytes:
    """The body without what moves with the clock alone (JSON, sorted); other bodies as they are."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return response.content
    return json.dumps(_without_clock(response.json()), sort_keys=True, indent=1).encode()


def _without_clock(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_clock(v) for k, v in cast(dict[str, Any], value).items() if k not in CLOCK}
    if isinstance(value, list):
        return [_without_clock(item) for item in cast(list[Any], value)]
    return value


A_VIEW = [
    *("/v1/agents", "/v1/agents/{agent_id}", "/v1/agents/{agent_id}/versions"),
    *("/v1/environments", "/v1/environments/{environment_id}", "/v1/sessions", S, S + "/resources", S + "/events"),
    S + "/threads",
    *("/v1/vaults", V, V + "/credentials", "/v1/files", "/v1/files/{file_id}", "/v1/files/{file_id}/content"),
    *("/v1/memory_stores", MS, MS + "/memories", MS + "/memory_versions", "/v1/skills", SK, SK + "/versions"),
    *("/v1/deployments", D, "/v1/deployment_runs", "/v1/deployment_runs/{deployment_run_id}"),
    *("/v1/corral/webhooks", "/v1/corral/webhooks/{endpoint_id}"),
    *("/v1/environments/{hosted_environment_id}/keys", "/v1/environments/{hosted_environment_id}/work/{work_id}"),
]


async def view(a: httpx.AsyncClient, ids: dict[str, str]) -> list[tuple[str, int, bytes]]:
    """Everything A sees of its workspace (what B's requests must leave as it was)."""
    seen: list[tuple[str, int, bytes]] = []
    for path in A_VIEW:
        response = await a.get(path.format(**ids), params={"limit": 100} if "{" not in path[-12:] else None)
        seen.append((path, response.status_code, steady(response)))
    return seen


async def call(http: httpx.AsyncClient, method: str, path: str, ids: dict[str, str]) -> httpx.Response:
    row = ROUTES[(method, path)]
    url = path.format(**{**ids, **{name: ids[source] for name, source in row.aliases}})
    if row.multipart:
        files: Any = {"file": ("b.txt", b"b", "text/plain")} if path == "/v1/files" else SKILL
        return await http.request(method, url, files=files)
    body = None if row.json is None else fill(row.json, ids)
    return await http.request(method, url, json=body, params=row.params)


def refusal(response: httpx.Response, status: int, kind: str) -> str | None:
    if response.status_code == status and response.json()["error"]["type"] == kind:
        return None
    return f"{response.status_code} {response.text[:200]}"


async def as_b(b: httpx.AsyncClient, ids: dict[str, str]) -> list[str]:
    """Every route with B's key; the problems found."""
    problems: list[str] = []
    for (method, path), row in ROUTES.items():
        if row.expect == "public":
            continue
        response = await call(b, method, path, ids)
        if row.expect == "own":
            ok = response.status_code == 200 and not any(i in response.text for i in ids.values())
            problem = None if ok else f"{response.status_code} {response.text[:200]}"
        else:
            kind = "not_found_error" if row.expect == "404" else "permission_error"
            problem = refusal(response, int(row.expect), kind)
        if problem is not None:
            problems.append(f"B {method} {path}: {problem}")
    return problems


async def unauthenticated(app: FastAPI, keys: dict[str, str], ids: dict[str, str]) -> list[str]:
    problems: list[str] = []
    for name, key in keys.items():
        async with client(app, key) as http:
            for (method, path), row in ROUTES.items():
                response = await call(http, method, path, ids)
                if row.expect == "public":
                    problem = None if response.status_code == 200 else str(response.status_code)
                else:
                    problem = refusal(response, 401, "authentication_error")
                if problem is not None:
                    problems.append(f"{name} key {method} {path}: {problem}")
    return problems


def differences(changed: list[tuple[tuple[str, int, bytes], tuple[str, int, bytes]]]) -> list[str]:
    """Where each changed view differs, line by line of its indented JSON."""
    found: list[str] = []
    for (path, _, old), (_, _, new) in changed:
        was, now = (body.decode(errors="replace").splitlines() for body in (old, new))
        found += [f"{path}: {line}" for line in difflib.unified_diff(was, now, lineterm="", n=0)][2:]
    return found


@pytest.fixture
async def app(engine: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    url = await database_url(engine, tmp_path)
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        api_key=ADMIN,
        workers=0,
        rate_writes_per_minute=0,
        rate_reads_per_minute=0,
        webhook_allow_private=True,
    )
    made_app = create_app(settings)
    async with made_app.router.lifespan_context(made_app):
        yield made_app


async def test_no_workspace_reaches_another_and_no_bad_key_reaches_any(app: FastAPI) -> None:
    catalog: Catalog = app.state.services.catalog
    a_key, a_record = await catalog.issue_key("team-a")
    b_key, _ = await catalog.issue_key("team-b")
    revoked, revoked_record = await catalog.issue_key("team-a")
    await catalog.revoke_key(revoked_record.id)
    async with client(app, a_key) as a, client(app, b_key) as b:
        ids = {**await objects_of(a), "key_id": a_record.id}
        before = await view(a, ids)
        problems = await as_b(b, ids)
        after = await view(a, ids)
        changed = [(one, two) for one, two in zip(before, after, strict=True) if one != two]
        assert changed == [], f"B's requests changed what A sees: {differences(changed)}"
    keys = {"missing": "", "invalid": "sk-corral-" + "x" * 43, "revoked": revoked}
    problems += await unauthenticated(app, keys, ids)
    assert problems == []
