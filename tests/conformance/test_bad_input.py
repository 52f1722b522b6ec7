"""Bad input over raw HTTP: always a 4xx in the error shape, with a request id, and nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.conformance.helpers import new_agent, new_session, unique
from tests.live import LiveServer


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {server.api_key}", "content-type": "application/json"}
    with httpx.Client(base_url=server.base_url, headers=headers, trust_env=False, timeout=30) as made:
        yield made


def assert_error(response: httpx.Response, status: int, kind: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"type", "error", "request_id"} and body["type"] == "error"
    assert body["request_id"] == response.headers["request-id"] and body["request_id"].startswith("req_")
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if kind is not None:
        assert body["error"]["type"] == kind
    return body


def agent_count(http: httpx.Client) -> int:
    return len(http.get("/v1/agents", params={"include_archived": "true", "limit": 100}).json()["data"])


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b"null",
        b'{"name": 123, "model": "claude-m"}',
        b'{"name": "n", "model": {"id": 5}}',
        b'{"name": "n", "model": "claude-m", "unknown_field": true}',
        b'{"name": "n", "model": "claude-m", "tools": "bash"}',
        b'{"name": "n", "model": "claude-m", "metadata": {"k": 1}}',
        b'{"name": "n", "model": "claude-m", "tools": [{"type": "custom", "name": "t", "description": "",'
        b' "input_schema": {"type": "object", "properties": {"x": NaN}}}]}',
        b'{"name": "' + b"x" * 300 + b'", "model": "claude-m"}',
        b'{"model": "claude-m"}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_bad_bodies_are_400_and_write_nothing(http: httpx.Client, body: bytes) -> None:
    before = agent_count(http)
    assert_error(http.post("/v1/agents", content=body), 400, "invalid_request_error")
    assert agent_count(http) == before


def test_validation_errors_say_where(http: httpx.Client) -> None:
    body = assert_error(http.post("/v1/agents", json={"name": "n", "model": "claude-m", "tools": [{"type": "x"}]}), 400)
    assert "tools" in body["error"]["message"]
    assert body["error"]["details"]["errors"][0]["loc"][:2] == ["body", "tools"]


def test_oversized_bodies_are_413(http: httpx.Client, client: anthropic.Anthropic) -> None:
    before = agent_count(http)
    huge = b'{"name": "n", "model": "claude-m", "system": "' + b"x" * (9 * 1024 * 1024) + b'"}'
    assert_error(http.post("/v1/agents", content=huge), 413, "request_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit trips while the body arrives
        yield b'{"name": "n", "model": "claude-m", "system": "'
        for _ in range(9):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    assert_error(http.post("/v1/agents", content=chunks()), 413, "request_too_large")
    with pytest.raises(anthropic.ContentTooLargeError):
        client.beta.agents.create(name="n", model="claude-m", system="x" * (9 * 1024 * 1024))
    assert agent_count(http) == before


def test_empty_bodies_with_a_json_content_type(http: httpx.Client, client: anthropic.Anthropic) -> None:
    agent = new_agent(client)
    assert http.post(f"/v1/agents/{agent.id}/archive", content=b"").status_code == 200
    session = new_session(client)
    assert http.post(f"/v1/sessions/{session.id}/archive", content=b"").status_code == 200
    assert http.request("DELETE", f"/v1/sessions/{session.id}", content=b"").status_code == 200
    assert_error(http.post("/v1/agents", content=b""), 400)
    assert_error(http.post(f"/v1/agents/{agent.id}", content=b""), 400)


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"include_archived": "maybe"},
        {"created_at[gte]": "yesterday"},
        {"page": "page_!!!"},
        {"page": "garbage"},
        {"page": "page_eyJrIjpbXSwiZCI6Im5leHQiLCJvIjoiZGVzYyIsInMiOiJzZXNzaW9ucyJ9"},
    ],
)
def test_bad_query_parameters_are_400(http: httpx.Client, query: dict[str, str]) -> None:
    assert_error(http.get("/v1/agents", params=query), 400, "invalid_request_error")


def test_bracketed_array_parameters(http: httpx.Client, client: anthropic.Anthropic) -> None:
    session = new_session(client)
    assert_error(http.get("/v1/sessions", params={"statuses[]": "sleeping"}), 400)
    listed = http.get("/v1/sessions", params=[("statuses[]", "idle"), ("statuses[]", "running"), ("limit", "100")])
    assert session.id in [s["id"] for s in listed.json()["data"]]
    events = http.get(f"/v1/sessions/{session.id}/events", params=[("types[]", "user.message")])
    assert events.status_code == 200 and events.json() == {"data": [], "next_page": None}
    assert_error(http.get(f"/v1/sessions/{session.id}/events", params={"types[]": "user.nothing"}), 400)
    stream = http.get(f"/v1/sessions/{session.id}/events/stream", params={"event_deltas[]": "agent.tool_use"})
    assert_error(stream, 400)


def test_unknown_routes_and_methods(http: httpx.Client) -> None:
    assert_error(http.get("/v1/nowhere"), 404, "not_found_error")
    assert_error(http.get("/v2/agents"), 404, "not_found_error")
    response = http.put("/v1/agents")
    assert_error(response, 405)
    assert response.headers["allow"] == "GET, POST"
    patched = http.patch(f"/v1/sessions/sesn_{unique('x')}")
    assert_error(patched, 405)
    assert patched.headers["allow"] == "DELETE, GET, POST"


def test_bad_ids_are_404_and_bad_references_400(http: httpx.Client, client: anthropic.Anthropic) -> None:
    assert_error(http.get("/v1/agents/sesn_abc"), 404, "not_found_error")
    assert_error(http.get("/v1/sessions/agent_abc/events"), 404, "not_found_error")
    env = client.beta.environments.create(name=unique("env"))
    body = assert_error(http.post("/v1/sessions", json={"agent": "not-an-agent", "environment_id": env.id}), 400)
    assert "agent" in body["error"]["message"]
    assert_error(http.post("/v1/sessions", json={"agent": {"type": "robot", "id": "x"}, "environment_id": env.id}), 400)
    assert list(client.beta.sessions.list(include_archived=True, limit=100)) is not None


def test_a_bad_request_never_becomes_a_500(http: httpx.Client) -> None:
    probes: list[tuple[str, str, Any]] = [
        ("POST", "/v1/sessions", {"agent": ["a"], "environment_id": None}),
        ("POST", "/v1/environments", {"name": "x", "config": {"type": "cloud", "networking": "open"}}),
        (
            "POST",
            "/v1/agents",
            {"name": "x", "model": "claude-m", "tools": [{"type": "agent_toolset_20260401", "configs": [{}]}]},
        ),
        ("POST", "/v1/agents", {"name": "x", "model": "claude-m", "execution_identity": {"type": "root"}}),
        ("GET", "/v1/sessions?order=sideways", None),
        ("GET", "/v1/sessions?agent_version=-1&agent_id=agent_x", None),
    ]
    for method, path, body in probes:
        response = http.request(method, path, json=body)
        assert 400 <= response.status_code < 500, (path, response.text)
        assert_error(response, response.status_code)
