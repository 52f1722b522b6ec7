"""Every response matches what ``/openapi.json`` declares for it, so ``corral.api.wire`` cannot drift unseen.

The real app (in process, on both engines) serves a scenario that calls every documented operation, with
successes and refusals. Each response is validated by schemathesis against the schema its operation documents
for that status, after the document is *closed* (objects admit no undeclared property): a field the server
sends but ``/openapi.json`` does not declare is drift as much as a declared field it does not send. An
operation without a validated success, a response with an undocumented status, or a request no operation
documents fails the test, so a new route needs a scenario here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol, cast

import anyio
import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from starlette.types import Message

from corral.api.app import create_app
from corral.compose.services import Services
from corral.config import Settings
from corral.ids import new_id
from corral.session.thread_store import NewThread
from tests.conftest import database_url

pytestmark = pytest.mark.anyio

KEY = "sk-corral-admin"
LIMIT = 64 * 1024
CUSTOM = {"type": "custom", "name": "lookup", "description": "d", "input_schema": {"type": "object", "x-extra": 1}}
AGENT: dict[str, Any] = {
    "name": "wire",
    "model": {"id": "claude-m", "effort": "low", "speed": "fast", "inference_geo": "us"},
    "system": "s",
    "description": "d",
    "tools": [
        {
            "type": "agent_toolset_20260401",
            "configs": [
                {"name": "web_fetch", "allowed_domains": ["a.example.com"], "url_sources": {"user_input": "none"}},
                {"name": "web_search", "user_location": {"type": "approximate", "country": "FR"}},
            ],
        },
        {"type": "mcp_toolset", "mcp_server_name": "gh", "configs": [{"name": "t", "enabled": False}]},
        CUSTOM,
    ],
    "mcp_servers": [{"type": "url", "name": "gh", "url": "https://example.com/mcp"}],
    "execution_identity": {"type": "aws_role", "role_arn": "arn:aws:iam::1:role/r"},
    "metadata": {"k": "v"},
    # corral's extension of an agent, echoed on the agent and its sessions' agent (corral's own defaults, always there)
    "corral": {"extensions": {"context_strategy": {"name": "default"}, "model_router": {"name": "default"}}},
}
CREDENTIAL_NET = {"type": "limited", "allowed_hosts": ["api.example.com"]}
CLOUD: dict[str, Any] = {
    "type": "cloud",
    "networking": {"type": "limited", "allowed_hosts": ["a.example.com"], "allow_package_managers": True},
    "packages": {"pip": ["x==1"]},
    "corral": {"warm_pool_size": 0, "provisioning": "eager"},
}


def closed(node: Any) -> Any:
    """``node`` with every object schema that declares properties refusing any other property."""
    if isinstance(node, list):
        return [closed(item) for item in cast(list[Any], node)]
    if not isinstance(node, dict):
        return node
    schema = {key: closed(value) for key, value in cast(dict[str, Any], node).items()}
    if isinstance(schema.get("properties"), dict) and schema.get("additionalProperties", True) is True:
        schema["additionalProperties"] = False
    return schema


class Operation(Protocol):
    """What this test uses of a schemathesis ``APIOperation`` (whose generic parameters it leaves unstated)."""

    path: str

    def validate_response(self, response: httpx.Response) -> bool | None: ...


class Operations(Protocol):
    def find_operation_by_path(self, method: str, path: str) -> Operation | None: ...


class Recorder:
    """Keeps every response the client receives (an httpx response hook)."""

    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []

    async def __call__(self, response: httpx.Response) -> None:
        await response.aread()
        await response.request.aread()  # a multipart upload's body is a stream; schemathesis reads its bytes
        self.responses.append(response)


@pytest.fixture
async def app(engine: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    url = await database_url(engine, tmp_path)
    settings = Settings(data_dir=tmp_path, database_url=url, api_key=KEY, workers=0, max_request_bytes=LIMIT)
    made = create_app(settings)
    async with made.router.lifespan_context(made):
        yield made


async def stream_until_deleted(
    app: FastAPI, http: httpx.AsyncClient, session_id: str, thread_id: str | None = None
) -> httpx.Response:
    """Open the session's SSE stream (or its thread's), delete the session once the 200 is out, and return the whole
    stream.

    Driven as raw ASGI: the response head is the signal that the stream is subscribed (httpx's ASGI transport
    would only return once the stream has ended)."""
    path = f"/v1/sessions/{session_id}/events/stream"
    if thread_id is not None:
        path = f"/v1/sessions/{session_id}/threads/{thread_id}/stream"
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"corral"), (b"x-api-key", KEY.encode())],
        "client": ("127.0.0.1", 1),
        "server": ("corral", 80),
    }
    started, ended = anyio.Event(), anyio.Event()
    head: list[Message] = []
    body: list[bytes] = []

    async def receive() -> Message:
        if not head and not body:
            return {"type": "http.request", "body": b"", "more_body": False}
        await ended.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            head.append(message)
            started.set()
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                ended.set()

    async with anyio.create_task_group() as group:
        group.start_soon(app, scope, receive, send)
        await started.wait()
        assert (await http.delete(f"/v1/sessions/{session_id}")).status_code == 200
        await ended.wait()
    headers = [(bytes(k).decode(), bytes(v).decode()) for k, v in head[0]["headers"]]
    request = httpx.Request("GET", f"http://corral{path}")
    response = httpx.Response(head[0]["status"], headers=headers, content=b"".join(body), request=request)
    response.elapsed = timedelta(0)  # what a client sets when a response has been read
    return response


async def thread_successes(app: FastAPI, http: httpx.AsyncClient, agent_id: str, env_id: str) -> httpx.Response:
    """Every thread operation, succeeding (a child thread made as the runtime makes one); returns the stream of the
    child, which ends when its session is deleted."""
    session = (await http.post("/v1/sessions", json={"agent": agent_id, "environment_id": env_id})).json()
    base = f"/v1/sessions/{session['id']}/threads"
    primary = (await http.get(base, params={"limit": 1})).json()["data"][0]
    services: Services = app.state.services
    record = await services.sessions.get_session(session["id"])
    child = NewThread(session["id"], new_id("thread"), primary["id"], dict(record.doc["agent"]), "helper")
    await services.sessions.threads.create_thread(child)
    await http.get(base, params={"statuses[]": ["idle", "running"]})
    await http.get(f"{base}/{child.thread_id}")
    await http.get(f"{base}/{primary['id']}/events", params={"limit": 1})
    await http.post(f"{base}/{child.thread_id}/archive")
    await http.get(f"{base}/{child.thread_id}/events")
    return await stream_until_deleted(app, http, session["id"], child.thread_id)


async def vault_successes(http: httpx.AsyncClient) -> str:
    """Every vault and credential operation, succeeding; returns a live vault for a session to attach."""
    vault = (await http.post("/v1/vaults", json={"display_name": "v", "metadata": {"a": "1"}})).json()
    spare = (await http.post("/v1/vaults", json={"display_name": "spare"})).json()
    base = f"/v1/vaults/{vault['id']}"
    await http.get(base)
    await http.post(base, json={"display_name": "w", "metadata": {"a": None}})
    await http.get("/v1/vaults", params={"limit": 1})
    refresh = {"client_id": "c", "refresh_token": "r", "token_endpoint": "http://127.0.0.1:9/t"}
    for auth in (
        {"type": "static_bearer", "mcp_server_url": "https://a.example.com/mcp", "token": "t"},
        {"type": "environment_variable", "secret_name": "K", "secret_value": "s", "networking": CREDENTIAL_NET},
    ):
        await http.post(f"{base}/credentials", json={"auth": auth, "display_name": "d", "metadata": {"k": "v"}})
    oauth = {
        "type": "mcp_oauth",
        "mcp_server_url": "http://127.0.0.1:9/mcp",  # the discard port: the probe finds nothing there
        "access_token": "a",
        "expires_at": "2099-01-01T00:00:00Z",
        "refresh": {**refresh, "token_endpoint_auth": {"type": "client_secret_post", "client_secret": "s"}},
    }
    credential = (await http.post(f"{base}/credentials", json={"auth": oauth})).json()
    path = f"{base}/credentials/{credential['id']}"
    await http.get(path)
    await http.post(path, json={"auth": {"type": "mcp_oauth", "refresh": {"scope": ""}}, "display_name": None})
    await http.get(f"{base}/credentials", params={"limit": 1, "include_archived": "true"})
    await http.post(f"{path}/mcp_oauth_validate")
    await http.post(f"{path}/archive")
    await http.delete(path)
    await http.post(f"/v1/vaults/{spare['id']}/archive")
    await http.delete(f"/v1/vaults/{spare['id']}")
    return vault["id"]


async def file_successes(http: httpx.AsyncClient) -> None:
    """Every files operation, succeeding."""
    made = (await http.post("/v1/files", files={"file": ("a.txt", b"abc", "text/plain")})).json()
    await http.post("/v1/files", files={"file": ("b.bin", b"b")}, data={"expires_in_seconds": "3600"})
    await http.get("/v1/files", params={"limit": 1})
    await http.get("/v1/files", params={"ids[]": [made["id"]]})
    await http.get(f"/v1/files/{made['id']}")
    await http.get(f"/v1/files/{made['id']}/content")
    await http.delete(f"/v1/files/{made['id']}")


async def memory_successes(http: httpx.AsyncClient) -> None:
    """Every memory store, memory and memory version operation, succeeding."""
    store = (
        await http.post("/v1/memory_stores", json={"name": "m", "description": "d", "metadata": {"a": "1"}})
    ).json()
    base = f"/v1/memory_stores/{store['id']}"
    await http.get(base)
    await http.post(base, json={"description": "", "metadata": {"a": None}})
    await http.get("/v1/memory_stores", params={"limit": 1, "include_archived": "true"})
    memory = (await http.post(f"{base}/memories", json={"path": "/a/b.md", "content": "b"})).json()
    await http.post(f"{base}/memories", json={"path": "/c.md", "content": "c"}, params={"view": "full"})
    await http.get(f"{base}/memories/{memory['id']}")
    sha = memory["content_sha256"]
    precondition = {"type": "content_sha256", "content_sha256": sha}
    await http.post(f"{base}/memories/{memory['id']}", json={"content": "B", "precondition": precondition})
    await http.patch(f"{base}/memories/{memory['id']}", json={"path": "/a/z.md"})
    await http.get(f"{base}/memories", params={"depth": 1, "limit": 1})
    await http.get(f"{base}/memories", params={"path_prefix": "/a/", "view": "full"})
    versions = (await http.get(f"{base}/memory_versions", params={"memory_id": memory["id"], "view": "full"})).json()
    await http.get(f"{base}/memory_versions/{versions['data'][0]['id']}")
    await http.post(f"{base}/memory_versions/{versions['data'][-1]['id']}/redact")
    await http.delete(f"{base}/memories/{memory['id']}")
    await http.post(f"{base}/archive")
    await http.delete(base)


SKILL = [("files[]", ("wire/SKILL.md", b"---\nname: wire\ndescription: d\n---\n")), ("files[]", ("wire/a.py", b"a"))]


async def skill_successes(http: httpx.AsyncClient) -> None:
    """Every skills operation, succeeding."""
    skill = (await http.post("/v1/skills", files=SKILL, data={"display_name": "Wire"})).json()
    path = f"/v1/skills/{skill['id']}"
    version = (await http.post(f"{path}/versions", files=SKILL)).json()
    await http.get("/v1/skills", params={"limit": 1})
    await http.get(path)
    await http.get(f"{path}/versions", params={"limit": 1})
    await http.get(f"{path}/versions/latest")
    await http.get(f"{path}/versions/{version['id']}/content")
    await http.delete(f"{path}/versions/{version['id']}")
    await http.delete(path)


async def resource_successes(http: httpx.AsyncClient, session_id: str) -> None:
    """Every session resources operation, succeeding."""
    file_id = (await http.post("/v1/files", files={"file": ("r.txt", b"r", "text/plain")})).json()["id"]
    base = f"/v1/sessions/{session_id}/resources"
    added = (await http.post(base, json={"type": "file", "file_id": file_id})).json()
    repository = {"type": "github_repository", "url": "https://git.example/acme/widgets", "authorization_token": "t"}
    repo = (await http.post(base, json=repository)).json()
    await http.get(base, params={"limit": 1})
    await http.get(f"{base}/{added['id']}")
    await http.post(f"{base}/{repo['id']}", json={"authorization_token": "rotated"})
    await http.delete(f"{base}/{added['id']}")


async def deployment_successes(http: httpx.AsyncClient, agent_id: str, env_id: str, message: dict[str, Any]) -> None:
    """Deployments, their runs and corral's webhook endpoints (created and deleted before any event is due)."""
    hook = (await http.post("/v1/corral/webhooks", json={"url": "https://93.184.216.34/hook"})).json()
    await http.get(f"/v1/corral/webhooks/{hook['id']}")
    await http.get("/v1/corral/webhooks", params={"limit": 1})
    await http.delete(f"/v1/corral/webhooks/{hook['id']}")
    schedule = {"type": "cron", "expression": "0 9 * * 1-5", "timezone": "Europe/Paris"}
    body = {"agent": agent_id, "environment_id": env_id, "initial_events": [message], "name": "d", "schedule": schedule}
    made = (await http.post("/v1/deployments", json=body)).json()
    await http.get(f"/v1/deployments/{made['id']}")
    await http.post(f"/v1/deployments/{made['id']}", json={"description": "daily", "metadata": {"k": "v"}})
    await http.get("/v1/deployments", params={"limit": 1})
    await http.post(f"/v1/deployments/{made['id']}/pause")
    await http.post(f"/v1/deployments/{made['id']}/unpause")
    run = (await http.post(f"/v1/deployments/{made['id']}/run")).json()
    await http.get(f"/v1/deployment_runs/{run['id']}")
    await http.get("/v1/deployment_runs", params={"deployment_id": made["id"]})
    await http.post(f"/v1/deployments/{made['id']}/archive")


async def work_successes(http: httpx.AsyncClient) -> None:
    """A self-hosted environment's keys and work queue, its worker calling with the environment key."""
    env = (await http.post("/v1/environments", json={"name": "on-prem", "config": {"type": "self_hosted"}})).json()
    base = f"/v1/environments/{env['id']}"
    key = (await http.post(f"{base}/keys", json={"name": "w"})).json()
    await http.get(f"{base}/keys")
    agent = (await http.post("/v1/agents", json=AGENT)).json()
    await http.post("/v1/sessions", json={"agent": agent["id"], "environment_id": env["id"]})
    worker = {"x-api-key": key["key"]}
    item = (await http.get(f"{base}/work/poll", params={"block_ms": 1}, headers=worker)).json()
    await http.get(f"{base}/work/poll", headers=worker)  # null: nothing more queued
    await http.post(f"{base}/work/{item['id']}/ack", headers=worker)
    beat = {"expected_last_heartbeat": "NO_HEARTBEAT"}
    await http.post(f"{base}/work/{item['id']}/heartbeat", params=beat, headers=worker)
    await http.post(f"{base}/work/{item['id']}/heartbeat", params=beat, headers=worker)  # 412: stale
    await http.get(f"{base}/work", headers=worker)
    await http.get(f"{base}/work/stats")
    await http.get(f"{base}/work/{item['id']}")
    await http.post(f"{base}/work/{item['id']}", json={"metadata": {"a": "b"}})
    await http.post(f"{base}/work/{item['id']}/stop", json={"force": True})
    await http.post(f"{base}/keys/{key['id']}/revoke")


async def successes(http: httpx.AsyncClient, app: FastAPI) -> list[httpx.Response]:
    """Call every operation so that it succeeds; returns the responses not seen by the client's hook."""
    await work_successes(http)
    vault_id = await vault_successes(http)
    await file_successes(http)
    await memory_successes(http)
    await skill_successes(http)
    env = (await http.post("/v1/environments", json={"name": "e", "config": CLOUD, "metadata": {"a": "1"}})).json()
    spare = (await http.post("/v1/environments", json={"name": "spare", "config": {"type": "self_hosted"}})).json()
    await http.get(f"/v1/environments/{env['id']}")
    await http.post(f"/v1/environments/{env['id']}", json={"description": "d", "metadata": {"a": None}})
    await http.get("/v1/environments", params={"limit": 1})
    agent = (await http.post("/v1/agents", json=AGENT)).json()
    await http.post(f"/v1/agents/{agent['id']}", json={"system": "v2", "tools": [CUSTOM], "mcp_servers": []})
    await http.get(f"/v1/agents/{agent['id']}")
    await http.get(f"/v1/agents/{agent['id']}", params={"version": 1})
    await http.get(f"/v1/agents/{agent['id']}/versions", params={"limit": 1})
    await http.get("/v1/agents", params={"limit": 1})
    ref = {"type": "agent_with_overrides", "id": agent["id"], "version": 2, "system": None}  # v1 declares MCP
    message = {"type": "user.message", "content": [{"type": "text", "text": "hi"}]}
    session = (
        await http.post(
            "/v1/sessions", json={"agent": ref, "environment_id": env["id"], "title": "t", "initial_events": [message]}
        )
    ).json()
    other = (
        await http.post(
            "/v1/sessions", json={"agent": agent["id"], "environment_id": env["id"], "vault_ids": [vault_id]}
        )
    ).json()
    await http.post(f"/v1/sessions/{other['id']}", json={"title": "u", "agent": {"tools": []}})
    await http.get(f"/v1/sessions/{other['id']}")
    await http.get("/v1/sessions", params={"limit": 1})
    await http.post(f"/v1/sessions/{session['id']}/events", json={"events": [{"type": "user.interrupt"}]})
    await http.get(f"/v1/sessions/{session['id']}/events", params={"limit": 1})
    await resource_successes(http, session["id"])
    await deployment_successes(http, agent["id"], env["id"], message)
    await http.post(f"/v1/sessions/{other['id']}/archive")
    await http.get("/healthz")
    await http.get("/v1/corral/stats")
    key = (await http.post("/v1/corral/keys", json={"workspace": "wire", "name": "k", "admin": False})).json()
    await http.get("/v1/corral/keys")
    await http.post(f"/v1/corral/keys/{key['id']}/revoke")
    threaded = await thread_successes(app, http, agent["id"], env["id"])
    streamed = await stream_until_deleted(app, http, other["id"])
    await http.delete(f"/v1/sessions/{session['id']}")
    await http.post(f"/v1/agents/{agent['id']}/archive")
    await http.post(f"/v1/environments/{spare['id']}/archive")
    await http.delete(f"/v1/environments/{spare['id']}")
    return [streamed, threaded]


async def refusals(http: httpx.AsyncClient) -> None:
    """Responses in the error shape: invalid, unauthenticated, unknown, conflicting, too large."""
    env = (await http.post("/v1/environments", json={"name": "busy"})).json()
    agent = (await http.post("/v1/agents", json={"name": "a", "model": "claude-m"})).json()
    await http.post("/v1/sessions", json={"agent": agent["id"], "environment_id": env["id"]})
    await http.post("/v1/agents", json={"name": "n", "model": {"id": "claude-m", "effort": "enormous"}})
    await http.get("/v1/agents", headers={"x-api-key": "sk-corral-wrong"})
    await http.get("/v1/agents/agent_nothing")
    await http.post(f"/v1/agents/{agent['id']}", json={"version": 9, "name": "b"})
    await http.delete(f"/v1/environments/{env['id']}")
    await http.post("/v1/agents", json={"name": "n", "model": "claude-m", "system": "x" * LIMIT})
    await http.get("/v1/sessions/sesn_nothing/events/stream")
    await http.get("/v1/sessions/sesn_nothing/events/stream", params={"event_deltas[]": "agent.tool_use"})
    vault = (await http.post("/v1/vaults", json={"display_name": "refusals"})).json()
    bearer = {"type": "static_bearer", "mcp_server_url": "https://b.example.com/mcp", "token": "t"}
    for _ in range(2):  # the second is a 409: one credential per MCP server URL
        await http.post(f"/v1/vaults/{vault['id']}/credentials", json={"auth": bearer})
    await http.post(f"/v1/vaults/{vault['id']}/credentials", json={"auth": {**bearer, "token": 1}})
    await http.get("/v1/vaults/vlt_nothing/credentials")
    await http.post("/v1/files", files={"file": ("c.txt", b"c")}, data={"expires_in_seconds": "60"})
    await http.get("/v1/files/file_nothing/content")
    store = (await http.post("/v1/memory_stores", json={"name": "refusals"})).json()
    memories = f"/v1/memory_stores/{store['id']}/memories"
    made = (await http.post(memories, json={"path": "/x", "content": "x"})).json()
    await http.post(memories, json={"path": "/x", "content": "taken"})  # 409 memory_path_conflict_error
    stale = {"type": "content_sha256", "content_sha256": "0" * 64}
    await http.post(f"{memories}/{made['id']}", json={"content": "y", "precondition": stale})  # 409 precondition
    await http.post(memories, json={"path": "/a/../b", "content": "x"})
    await http.get("/v1/memory_stores/memstore_nothing/memory_versions")
    await http.post("/v1/skills", files=[("files[]", ("loose/notes.md", b"no SKILL.md"))])
    await http.get("/v1/skills/xlsx")
    await http.get("/v1/skills/skill_nothing/versions/latest/content")


def problems(spec: dict[str, Any], schema: Operations, responses: list[httpx.Response]) -> list[str]:
    found: list[str] = []
    for response in responses:
        request = response.request
        label = f"{request.method} {request.url.path} -> {response.status_code}"
        operation = schema.find_operation_by_path(request.method, request.url.path)
        if operation is None:
            found.append(f"{label}: no operation documents this request")
            continue
        if str(response.status_code) not in spec["paths"][operation.path][request.method.lower()]["responses"]:
            found.append(f"{label}: status not documented")
            continue
        try:
            operation.validate_response(response)
        except Exception as failure:  # schemathesis's FailureGroup: report every mismatch, then fail
            found.append(f"{label}: {failure}")
    return found


async def test_every_response_matches_its_documented_schema(app: FastAPI) -> None:
    recorder = Recorder()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://corral", headers={"x-api-key": KEY}, event_hooks={"response": [recorder]}
    ) as http:
        spec: dict[str, Any] = (await http.get("/openapi.json")).json()
        recorder.responses.clear()
        unhooked = await successes(http, app)
        await refusals(http)
    responses = recorder.responses + unhooked
    schema = cast(Operations, schemathesis.openapi.from_dict(closed(spec)))
    found = problems(spec, schema, responses)
    assert not found, "\n\n".join(found)
    documented = {(path, method.upper()) for path, operations in spec["paths"].items() for method in operations}
    succeeded = {
        (operation.path, response.request.method)
        for response in responses
        if response.is_success
        and (operation := schema.find_operation_by_path(response.request.method, response.request.url.path))
    }
    assert documented - succeeded == set()
    assert {response.status_code for response in responses} >= {200, 400, 401, 404, 409, 413}
