"""End to end through the official SDK against a live ``corral serve`` (API, workers, local sandboxes) driven by a
scripted model: a memory store attached at ``sessions.create(resources=…)`` is mounted in the session's sandbox;
what the agent writes there is a memory whose version the session made, and a second session remembers it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.conformance.helpers import unique
from tests.live import LiveServer
from tests.sdk_server import agent_server, run_turn, sdk

pytestmark = pytest.mark.timeout(300)
INSTRUCTIONS = "Keep one file per topic."


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, ScriptedModelServer]]:
    with agent_server(tmp_path_factory, "memory-e2e") as running:
        yield running


def tool_results(events: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    return [(e["content"][0]["text"], e["is_error"]) for e in events if e["type"] == "agent.tool_result"]


def test_an_agent_remembers_across_two_sessions_through_a_memory_store(
    served: tuple[LiveServer, ScriptedModelServer],
) -> None:
    live, model = served
    with sdk(live) as client:
        store = client.beta.memory_stores.create(name=unique("Notes"), description="what the user told us")
        agent = client.beta.agents.create(
            name="Rememberer", model="claude-sonnet-4-6", tools=[{"type": "agent_toolset_20260401"}]
        )
        environment = client.beta.environments.create(name=unique("memory"), config={"type": "cloud"})
        attach: Any = [
            {"type": "memory_store", "memory_store_id": store.id, "access": "read_write", "instructions": INSTRUCTIONS}
        ]

        first = client.beta.sessions.create(agent=agent.id, environment_id=environment.id, resources=attach)
        mount = first.resources[0].mount_path
        assert mount is not None and mount.startswith("/mnt/memory/")
        model.set_script(
            {
                "replies": [
                    reply(tool_use("write", {"file_path": f"{mount}/sky.md", "content": "the sky is blue\n"})),
                    reply(text("Noted.")),
                ]
            }
        )
        assert [error for _, error in tool_results(run_turn(client, first.id, "Remember: the sky is blue."))] == [False]
        system = str(model.requests[-1].body.get("system"))
        assert mount + "/" in system and INSTRUCTIONS in system and "what the user told us" in system

        (memory,) = client.beta.memory_stores.memories.list(store.id).data
        assert memory.type == "memory" and memory.path == "/sky.md"
        (version,) = client.beta.memory_stores.memory_versions.list(store.id, session_id=first.id).data
        assert version.operation == "created" and version.created_by is not None
        assert version.created_by.model_dump() == {"type": "session_actor", "session_id": first.id}
        assert first.id in [s.id for s in client.beta.sessions.list(memory_store_id=store.id)]

        second = client.beta.sessions.create(agent=agent.id, environment_id=environment.id, resources=attach)
        model.set_script(
            {"replies": [reply(tool_use("bash", {"command": f"cat {mount}/sky.md"})), reply(text("Blue."))]}
        )
        assert tool_results(run_turn(client, second.id, "What colour is the sky?")) == [("the sky is blue", False)]
