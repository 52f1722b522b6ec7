"""A failed model request names the provider and the URL it went to, in the ``session.error`` the client reads
and in the server's log."""

from __future__ import annotations

import logging

import pytest

from corral.session import SessionStore
from corral.testing import ScriptedModelServer, reply, text
from tests.harness.helpers import agent, create_session, running, send, settings_for, user_message, wait_idle

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("model", "provider", "path"), [("claude-test", "anthropic", ""), ("openai:gpt", "openai", "/v1")]
)
async def test_a_model_failure_names_the_provider_and_its_url(
    store: SessionStore, caplog: pytest.LogCaptureFixture, model: str, provider: str, path: str
) -> None:
    script = {"replies": [reply(text("never"))], "faults": [{"kind": "server_error", "times": 2}]}
    caplog.set_level(logging.WARNING, logger="corral.harness")
    async with ScriptedModelServer(script) as server, running(store, settings_for(server.url, model_max_retries=1)):
        session_id = await create_session(store, agent(model))
        await send(store, session_id, user_message("Go"))
        events = await wait_idle(store, session_id)
    where = f"{provider} ({server.url}{path}): "
    messages = [e.data()["error"]["message"] for e in events if e.type == "session.error"]
    assert len(messages) == 2 and all(message.startswith(where) for message in messages)
    logged = [r.getMessage() for r in caplog.records if r.name == "corral.harness"]
    assert any(session_id in line and where in line for line in logged)
