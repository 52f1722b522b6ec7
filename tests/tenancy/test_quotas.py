"""Tenancy quotas against live servers (the package's server per engine, whose quotas are small), and request
rates shared by two API processes on one PostgreSQL database.

What it proves: a client's send that would take a session past its events or its bytes of stored event JSON,
and a session create past the workspace's sessions not archived, are each a 400 ``invalid_request_error`` whose
``error.details.limit`` names the setting, writing nothing; archiving a session frees its place. Two API
processes on one PostgreSQL database give a workspace its write rate once, not twice: the first 429 comes at
the same request whichever process serves it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import anyio
import httpx
import pytest

from tests.conformance.helpers import error_body, new_session, user_message
from tests.conftest import fresh_postgres_url
from tests.live import LiveServer, live_server
from tests.sdk_server import sdk
from tests.tenancy.conftest import MAX_BYTES, MAX_EVENTS, MAX_SESSIONS


def workspace_client(server: LiveServer, workspace: str) -> anthropic.Anthropic:
    made = httpx.post(
        f"{server.base_url}/v1/corral/keys", json={"workspace": workspace}, headers={"x-api-key": server.api_key}
    )
    assert made.status_code == 200, made.text
    return sdk(server, str(made.json()["secret"]))


def refused_by(caught: pytest.ExceptionInfo[anthropic.BadRequestError], setting: str) -> None:
    error: dict[str, Any] = error_body(caught.value)["error"]
    assert caught.value.status_code == 400 and error["type"] == "invalid_request_error", error
    assert error["details"]["limit"] == setting and setting in error["message"], error


def event_ids(client: anthropic.Anthropic, session_id: str) -> list[str]:
    return [event.id for event in client.beta.sessions.events.list(session_id)]


def test_a_send_past_the_session_event_quota_is_refused_and_writes_nothing(server: LiveServer) -> None:
    with workspace_client(server, "quota-events") as client:
        fill_events(client)


def fill_events(client: anthropic.Anthropic) -> None:
    session = new_session(client)
    client.beta.sessions.events.send(session.id, events=[user_message("first")])
    before = event_ids(client, session.id)
    room = MAX_EVENTS - len(before)
    assert room >= 1
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.beta.sessions.events.send(session.id, events=[user_message(str(n)) for n in range(room + 1)])
    refused_by(caught, "CORRAL_MAX_EVENTS_PER_SESSION")
    assert event_ids(client, session.id) == before
    client.beta.sessions.events.send(session.id, events=[user_message(str(n)) for n in range(room)])
    assert len(event_ids(client, session.id)) == MAX_EVENTS


def test_a_send_past_the_session_byte_quota_is_refused_and_writes_nothing(server: LiveServer) -> None:
    with workspace_client(server, "quota-bytes") as client:
        fill_bytes(client)


def fill_bytes(client: anthropic.Anthropic) -> None:
    session = new_session(client)
    client.beta.sessions.events.send(session.id, events=[user_message("x" * (MAX_BYTES // 2))])
    before = event_ids(client, session.id)
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.beta.sessions.events.send(session.id, events=[user_message("y" * (MAX_BYTES // 2))])
    refused_by(caught, "CORRAL_MAX_SESSION_BYTES")
    assert event_ids(client, session.id) == before
    client.beta.sessions.events.send(session.id, events=[user_message("small")])  # what fits still goes in


def test_sessions_past_the_workspace_quota_are_refused_until_one_is_archived(server: LiveServer) -> None:
    with workspace_client(server, "quota-sessions") as client, workspace_client(server, "quota-neighbour") as other:
        fill_sessions(client, other)


def fill_sessions(client: anthropic.Anthropic, other: anthropic.Anthropic) -> None:
    agent = client.beta.agents.create(name="a", model="claude-sonnet-4-5")
    environment = client.beta.environments.create(name="e")
    made = [new_session(client, agent=agent.id, environment_id=environment.id) for _ in range(MAX_SESSIONS)]
    with pytest.raises(anthropic.BadRequestError) as caught:
        new_session(client, agent=agent.id, environment_id=environment.id)
    refused_by(caught, "CORRAL_MAX_SESSIONS_PER_WORKSPACE")
    assert sorted(s.id for s in client.beta.sessions.list()) == sorted(s.id for s in made)
    new_session(other)  # per workspace: another one is unaffected
    client.beta.sessions.archive(made[0].id)
    new_session(client, agent=agent.id, environment_id=environment.id)


WRITES = 3


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two API processes on one PostgreSQL database, a small write rate each."""
    url = anyio.run(fresh_postgres_url)
    env = {"CORRAL_WORKERS": "0", "CORRAL_RATE_WRITES_PER_MINUTE": str(WRITES)}
    tmp: Path = tmp_path_factory.mktemp("shared-rates")
    with live_server(url, data_dir=tmp / "a", env=env) as first:
        with live_server(url, data_dir=tmp / "b", env=env) as second:
            yield first, second


def first_refusal(servers: tuple[LiveServer, LiveServer], key: str) -> tuple[int, httpx.Response]:
    """Create environments through the two processes in turn until one is refused: (how many passed, the 429)."""
    for n in range(4 * WRITES):
        server = servers[n % 2]
        answer = httpx.post(
            f"{server.base_url}/v1/environments", json={"name": f"e{n}"}, headers={"x-api-key": key}, timeout=30
        )
        if answer.status_code != 200:
            return n, answer
    raise AssertionError(f"no request of {4 * WRITES} was refused")


def test_two_api_processes_on_postgresql_share_one_rate_limit(two_processes: tuple[LiveServer, LiveServer]) -> None:
    first, _ = two_processes
    samples: list[tuple[int, httpx.Response]] = []
    for attempt in range(3):  # a sample that straddles a minute's window boundary proves nothing: take another
        made = httpx.post(
            f"{first.base_url}/v1/corral/keys",
            json={"workspace": f"shared-{attempt}"},
            headers={"x-api-key": first.api_key},
        )
        window = int(time.time() // 60)
        samples.append(first_refusal(two_processes, str(made.json()["secret"])))
        if int(time.time() // 60) == window:
            break
    passed, refused = samples[-1]
    assert passed == WRITES  # in-process buckets would have let 2 * WRITES through
    assert refused.status_code == 429 and refused.json()["error"]["type"] == "rate_limit_error"
    assert 0 < float(refused.headers["retry-after"]) <= 60
