"""Tenancy limits against live servers: what one request may send (both engines, the package's server), and the
request rates of a workspace (a server of its own with small limits, SQLite: the buckets live in the API process,
whatever the engine).

What it proves: an oversized event (a 5 MiB ``user.message``) is a 413 and too many events in one request a 400,
both in the API's error shape and writing nothing; a workspace over its write rate gets 429 ``rate_limit_error``
with ``retry-after`` while other workspaces and the admin key go on; the official SDK waits and retries a 429 by
itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import anthropic
import httpx
import httpx2
import pytest

from tests.conformance.helpers import new_session, user_message
from tests.live import LiveServer, live_server

WRITES, READS = 3, 30  # per minute: three writes, then one every 20 s; thirty reads, then one every 2 s


def events_of(client: anthropic.Anthropic, session_id: str) -> list[str]:
    return [event.id for event in client.beta.sessions.events.list(session_id)]


def test_an_oversized_event_is_refused_and_writes_nothing(client: anthropic.Anthropic) -> None:
    session = new_session(client)
    before = events_of(client, session.id)
    huge = user_message("x" * (5 * 1024 * 1024))
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.beta.sessions.events.send(session.id, events=[huge])
    assert caught.value.status_code == 413
    error = cast(dict[str, Any], caught.value.body)["error"]
    assert error["type"] == "request_too_large" and "events[0]" in error["message"]
    assert events_of(client, session.id) == before


def test_too_many_events_in_one_request_are_refused_and_write_nothing(client: anthropic.Anthropic) -> None:
    session = new_session(client)
    before = events_of(client, session.id)
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.beta.sessions.events.send(session.id, events=[user_message(str(n)) for n in range(101)])
    assert "at most 100" in cast(dict[str, Any], caught.value.body)["error"]["message"]
    assert events_of(client, session.id) == before


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("rates")
    env = {
        "CORRAL_WORKERS": "0",
        "CORRAL_RATE_WRITES_PER_MINUTE": str(WRITES),
        "CORRAL_RATE_READS_PER_MINUTE": str(READS),
    }
    with live_server(f"sqlite:///{tmp / 'corral.db'}", data_dir=tmp / "data", env=env) as running:
        yield running


def new_key(server: LiveServer, workspace: str, *, admin: bool = False) -> str:
    """A key made through the admin API (admin keys are never rate-limited)."""
    made = httpx.post(
        f"{server.base_url}/v1/corral/keys",
        json={"workspace": workspace, "admin": admin},
        headers={"x-api-key": server.api_key},
    )
    assert made.status_code == 200, made.text
    return str(made.json()["secret"])


def create_environment(server: LiveServer, key: str, name: str) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/environments", json={"name": name}, headers={"x-api-key": key})


def test_a_workspace_over_its_write_rate_gets_429_and_others_go_on(limited: LiveServer) -> None:
    key, sibling, neighbour = new_key(limited, "busy"), new_key(limited, "busy"), new_key(limited, "calm")
    for n in range(WRITES):
        assert create_environment(limited, key, f"e{n}").status_code == 200
    refused = create_environment(limited, key, "one too many")
    assert refused.status_code == 429 and refused.json()["error"]["type"] == "rate_limit_error"
    assert 1 <= int(refused.headers["retry-after"]) <= 60 // WRITES and int(refused.headers["retry-after-ms"]) > 0
    assert refused.headers["x-should-retry"] == "true" and refused.json()["request_id"].startswith("req_")
    assert create_environment(limited, sibling, "same workspace").status_code == 429  # per workspace, not per key
    assert create_environment(limited, neighbour, "other workspace").status_code == 200
    assert create_environment(limited, new_key(limited, "busy", admin=True), "an admin key").status_code == 200
    listed = httpx.get(f"{limited.base_url}/v1/environments", headers={"x-api-key": key}).json()["data"]
    names = sorted(env["name"] for env in listed)
    assert names == ["an admin key", *(f"e{n}" for n in range(WRITES))]  # the refused ones wrote nothing


def test_the_sdk_waits_out_a_429_and_retries(limited: LiveServer) -> None:
    key = new_key(limited, "patient")
    statuses: list[int] = []

    def seen(response: httpx2.Response) -> None:
        statuses.append(response.status_code)

    http = httpx2.Client(trust_env=False, event_hooks={"response": [seen]})
    client = anthropic.Anthropic(base_url=limited.base_url, api_key=key, max_retries=3, http_client=http)
    with client, httpx.Client(base_url=limited.base_url, headers={"x-api-key": key}, trust_env=False) as raw:
        for _ in range(5):  # until the SDK's first try meets an empty bucket (it refills every 2 s)
            while raw.get("/v1/agents").status_code != 429:
                pass
            statuses.clear()
            client.beta.agents.list()
            if statuses[0] == 429:
                break
    assert statuses[0] == 429 and statuses[-1] == 200


def test_sending_events_is_no_create_and_is_not_rate_limited(limited: LiveServer) -> None:
    key = new_key(limited, "chatty")
    with anthropic.Anthropic(base_url=limited.base_url, api_key=key, max_retries=0) as client:
        session = new_session(client)  # an agent, an environment, a session: the workspace's writes for now
        for n in range(WRITES + 3):
            client.beta.sessions.events.send(session.id, events=[user_message(str(n))])
    assert create_environment(limited, key, "a create").status_code == 429
