"""``user.interrupt`` through the official SDK against a live ``corral serve`` with real sandboxes.

* An interrupt stops the command that is running in the sandbox, with everything it started, and the next bash call
  (``restart: true`` included) does not wait for it. Left alone, the command here would run until the sandbox's
  wall-clock limit (150 s) stops it; the test watches the host's process table for it to go, with a deadline
  well below that limit (a generous safety net: the kill itself takes milliseconds).
* An interrupt during a streamed reply finalises the message whose previews (``event_start`` / ``event_delta``) a
  client saw: the buffered ``agent.message`` is the last thing sent for that id, and the deltas are a prefix of it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import anthropic
import anyio
import httpx
import pytest

from corral.config import Settings
from corral.sandbox.local import LocalSandboxProvider
from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.live import LiveServer, live_server
from tests.sandbox.conftest import wait_until

pytestmark = pytest.mark.timeout(300)

#: a duration no other process on this host uses, so the test finds exactly its own command
DURATION = f"601.{secrets.randbelow(10**6):06d}"
LONG = f"touch started; sleep {DURATION}; touch finished"
#: counts processes with the argument DURATION (the pattern does not match grep's own arguments)
SLEEPERS = f"grep -lzx '60[1][.]{DURATION[4:]}' /proc/[0-9]*/cmdline 2>/dev/null | wc -l"
SLOW_WORDS = " ".join(f"word{n}" for n in range(400))
SCRIPT: dict[str, Any] = {
    "rules": [
        {
            "contains": "STREAM-SLOWLY",
            "reply": {**reply(text(SLOW_WORDS)), "latency": {"tokens_per_second": 20}},
        }
    ],
    "replies": [
        reply(tool_use("bash", {"command": LONG, "timeout_ms": 600_000})),
        reply(tool_use("bash", {"command": SLEEPERS})),
        reply(tool_use("bash", {"restart": True})),
        reply(tool_use("bash", {"command": "echo still here"})),
        reply(text("Done.")),
    ],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("sdk-interrupts")
    with ScriptedModelServer(SCRIPT) as model_server:
        env = {"ANTHROPIC_BASE_URL": model_server.url, "CORRAL_LEASE_TTL": "5"}
        with live_server(f"sqlite:///{tmp / 'corral.db'}", data_dir=tmp / "data", env=env) as running:
            yield running


@pytest.fixture
def client(server: LiveServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=server.base_url, api_key=server.api_key, max_retries=0) as made:
        yield made


def _session(client: anthropic.Anthropic) -> str:
    agent = client.beta.agents.create(
        name="interrupted", model="claude-sonnet-4-6", tools=[{"type": "agent_toolset_20260401"}]
    )
    environment = client.beta.environments.create(name=f"env-{agent.id[-8:]}")
    return client.beta.sessions.create(agent=agent.id, environment_id=environment.id).id


def _say(client: anthropic.Anthropic, session_id: str, words: str) -> None:
    client.beta.sessions.events.send(
        session_id, events=[{"type": "user.message", "content": [{"type": "text", "text": words}]}]
    )


def _interrupt(client: anthropic.Anthropic, session_id: str) -> None:
    client.beta.sessions.events.send(session_id, events=[{"type": "user.interrupt"}])


def _until_idle(stream: Iterator[Any]) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    for event in stream:
        seen.append(event.model_dump())
        if event.type == "session.status_idle":
            return seen
    raise AssertionError("the stream ended before the session went idle")


def _wait_for_file(path: Path) -> None:
    """Wait until the command in the sandbox has started (it creates ``path``)."""
    anyio.run(partial(wait_until, path.exists, 120.0))


def _sleepers() -> int:
    """Processes on this host (sandboxes included: they share the kernel) running ``sleep DURATION``."""
    found = 0
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = path.read_bytes().split(b"\0")
        except OSError:
            continue  # the process ended while we looked
        if argv[:2] == [b"sleep", DURATION.encode()]:
            found += 1
    return found


def test_an_interrupt_stops_the_running_command_and_everything_it_started(
    server: LiveServer, client: anthropic.Anthropic
) -> None:
    session_id = _session(client)
    workspace = LocalSandboxProvider(Settings(data_dir=server.data_dir)).workspace_path(session_id)
    with client.beta.sessions.events.stream(session_id) as stream:
        _say(client, session_id, "run the long job")
        _wait_for_file(workspace / "started")
        assert _sleepers() == 1
        _interrupt(client, session_id)
        first = _until_idle(iter(stream))
        anyio.run(partial(wait_until, lambda: _sleepers() == 0, 60.0))
        _say(client, session_id, "check that nothing is left running")
        second = _until_idle(iter(stream))
    interrupted = [e for e in first if e["type"] == "agent.tool_result"]
    assert len(interrupted) == 1 and interrupted[0]["is_error"]
    assert "interrupted" in interrupted[0]["content"][0]["text"]
    results = [(e["content"][0]["text"], e["is_error"]) for e in second if e["type"] == "agent.tool_result"]
    assert results == [("0", False), ("bash session restarted", False), ("still here", False)]
    assert not (workspace / "finished").exists()


def _sse(response: httpx.Response) -> Iterator[dict[str, Any]]:
    for line in response.iter_lines():
        if line.startswith("data: "):
            yield json.loads(line[len("data: ") :])


def test_an_interrupt_during_a_streamed_reply_finalises_the_previewed_message(
    server: LiveServer, client: anthropic.Anthropic
) -> None:
    session_id = _session(client)
    url = f"{server.base_url}/v1/sessions/{session_id}/events/stream"
    headers = {"authorization": f"Bearer {server.api_key}"}
    frames: list[dict[str, Any]] = []
    with httpx.Client(timeout=120, trust_env=False) as http:
        with http.stream("GET", url, headers=headers, params={"event_deltas[]": "agent.message"}) as response:
            assert response.status_code == 200
            _say(client, session_id, "STREAM-SLOWLY please")
            for frame in _sse(response):
                frames.append(frame)
                if frame["type"] == "event_delta" and len([f for f in frames if f["type"] == "event_delta"]) == 3:
                    _interrupt(client, session_id)
                if frame["type"] == "session.status_idle":
                    break
    starts = [f for f in frames if f["type"] == "event_start"]
    assert len(starts) == 1
    message_id = starts[0]["event"]["id"]
    about = [f for f in frames if f.get("id") == message_id or f.get("event_id") == message_id or f in starts]
    final = about[-1]
    assert final["type"] == "agent.message" and final["id"] == message_id
    streamed = "".join(f["delta"]["content"]["text"] for f in about if f["type"] == "event_delta")
    written = final["content"][0]["text"]
    assert written.startswith(streamed) and len(written) < len(SLOW_WORDS)
    stored = [e for e in client.beta.sessions.events.list(session_id) if e.type == "agent.message"]
    assert [e.id for e in stored] == [message_id]
    assert frames[-1]["stop_reason"]["type"] == "end_turn"
