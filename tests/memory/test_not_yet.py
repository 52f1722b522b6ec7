"""What memory stores do not do yet, refused clearly: attaching a store to a session (mounting it under
``/mnt/memory/``) is a 400 that names it, and nothing is created."""

from __future__ import annotations

import anthropic
import pytest

from tests.conformance.helpers import new_agent, new_environment, unique


def test_a_session_cannot_attach_a_memory_store_yet(client: anthropic.Anthropic) -> None:
    store = client.beta.memory_stores.create(name=unique("unmounted"))
    agent, environment = new_agent(client), new_environment(client)
    before = {session.id for session in client.beta.sessions.list(limit=100)}
    with pytest.raises(anthropic.BadRequestError, match="memory stores"):
        client.beta.sessions.create(
            agent=agent.id,
            environment_id=environment.id,
            resources=[{"type": "memory_store", "memory_store_id": store.id, "access": "read_write"}],
        )
    assert {session.id for session in client.beta.sessions.list(limit=100)} == before
    assert list(client.beta.sessions.list(memory_store_id=store.id)) == []
