"""A failed model request names the provider and the URL it went to, in the ``session.error`` the client reads
and in the server's log."""

from __future__ import annotations

import logging
from dataclasses import replace

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


async def test_a_key_quoted_by_the_provider_never_reaches_the_session(store: SessionStore) -> None:
    key = "sk-test-canary-" + "k" * 24
    quoted = f"invalid x-api-key: {key}"
    script = {"replies": [reply(text("never"))], "faults": [{"kind": "server_error", "times": 2, "message": quoted}]}
    async with ScriptedModelServer(script) as server:
        settings = settings_for(server.url, model_max_retries=1)
        providers = dict(settings.providers)
        providers["anthropic"] = replace(providers["anthropic"], api_key=key)
        async with running(store, replace(settings, providers=providers)):
            session_id = await create_session(store, agent("claude-test"))
            await send(store, session_id, user_message("Go"))
            events = await wait_idle(store, session_id)
    assert [r.body.get("model") for r in server.requests] == ["claude-test", "claude-test"]
    messages = [e.data()["error"]["message"] for e in events if e.type == "session.error"]
    assert len(messages) == 2 and all("invalid x-api-key: [redacted]" in message for message in messages)
    assert key not in "".join(e.payload for e in events)
