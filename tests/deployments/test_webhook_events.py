"""Webhooks for every kind of change, through the official SDK against a live server (both engines): each change
to an agent, environment, session, vault, credential or memory store reaches an endpoint that takes every event,
once, signed so that ``client.beta.webhooks.unwrap`` verifies it; a type corral never emits is refused at
registration, naming why."""

from __future__ import annotations

import queue

import anthropic
import pytest
from anthropic.types.beta import BetaWebhookEvent
from anthropic.types.beta.sessions import BetaManagedAgentsUserMessageEventParams
from anthropic.types.beta.vaults import BetaManagedAgentsStaticBearerCreateParams

from corral.outbox import NEVER_EMITTED, session_changes
from tests.deployments.helpers import corral_api, webhook
from tests.deployments.receiver import receiver
from tests.live import LiveServer


def test_every_change_is_reported_once_and_verifies(server: LiveServer, client: anthropic.Anthropic) -> None:
    beta = client.beta
    expected: list[tuple[str, str]] = []
    with receiver() as hooks, webhook(server, hooks.url) as endpoint:
        agent = beta.agents.create(name="hooked", model="claude-sonnet-4-6")
        beta.agents.update(agent.id, version=1, description="now described")
        environment = beta.environments.create(name=f"hooked-{agent.id}")
        beta.environments.update(environment.id, description="described")
        expected += [("agent.created", agent.id), ("agent.updated", agent.id)]
        expected += [("environment.created", environment.id), ("environment.updated", environment.id)]

        hello: BetaManagedAgentsUserMessageEventParams = {
            "type": "user.message",
            "content": [{"type": "text", "text": "hi"}],
        }
        session = beta.sessions.create(agent=agent.id, environment_id=environment.id, initial_events=[hello])
        beta.sessions.update(session.id, title="a title")
        beta.sessions.archive(session.id)
        beta.sessions.delete(session.id)
        expected += [
            (name, session.id)
            for name in (
                "session.created",
                "session.updated",
                "session.running",
                "session.status_run_started",
                "session.status_terminated",
                "session.archived",
                "session.deleted",
            )
        ]

        vault = beta.vaults.create(display_name="hooked")
        auth: BetaManagedAgentsStaticBearerCreateParams = {
            "type": "static_bearer",
            "mcp_server_url": "https://mcp.example.com/mcp",
            "token": "t0ken",
        }
        kept = beta.vaults.credentials.create(vault.id, auth=auth)
        beta.vaults.credentials.archive(kept.id, vault_id=vault.id)
        beta.vaults.credentials.delete(kept.id, vault_id=vault.id)
        beta.vaults.archive(vault.id)
        beta.vaults.delete(vault.id)
        expected += [(f"vault_credential.{name}", kept.id) for name in ("created", "archived", "deleted")]
        expected += [(f"vault.{name}", vault.id) for name in ("created", "archived", "deleted")]

        store = beta.memory_stores.create(name=f"hooked-{vault.id}")
        beta.memory_stores.archive(store.id)
        beta.memory_stores.delete(store.id)
        expected += [(f"memory_store.{name}", store.id) for name in ("created", "archived", "deleted")]

        beta.agents.archive(agent.id)
        beta.environments.archive(environment.id)
        beta.environments.delete(environment.id)
        expected += [("agent.archived", agent.id), ("environment.archived", environment.id)]
        expected += [("environment.deleted", environment.id)]

        events: list[BetaWebhookEvent] = []
        for _ in expected:
            try:
                got = hooks.next()
            except queue.Empty:
                arrived = sorted((e.data.type, e.data.id) for e in events)
                raise AssertionError(f"missing: {sorted(set(expected) - set(arrived))}; arrived: {arrived}") from None
            events.append(beta.webhooks.unwrap(got.body, headers=got.headers, key=endpoint["secret"]))
    assert sorted((e.data.type, e.data.id) for e in events) == sorted(expected)
    assert len({e.id for e in events}) == len(events)
    credential_events = [e.data for e in events if e.data.type.startswith("vault_credential.")]
    assert all(d.model_dump().get("vault_id") == vault.id for d in credential_events)


@pytest.mark.parametrize("never", sorted(NEVER_EMITTED))
def test_a_type_corral_never_emits_is_refused_at_registration(server: LiveServer, never: str) -> None:
    with corral_api(server) as http:
        response = http.post("/v1/corral/webhooks", json={"url": "http://127.0.0.1:9/hook", "event_types": [never]})
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert never in message and NEVER_EMITTED[never] in message


def test_a_sessions_idle_reports_what_stopped_it_and_threads_report_their_own() -> None:
    def idle(reason: str) -> list[str]:
        return [
            c.event_type for c in session_changes("sesn_1", "session.status_idle", {"stop_reason": {"type": reason}})
        ]

    assert idle("end_turn") == ["session.idled", "session.status_idled"]
    assert idle("requires_action") == ["session.idled", "session.status_idled", "session.requires_action"]
    assert idle("budget_reached") == ["session.idled", "session.status_idled", "session.budget_reached"]
    (thread,) = session_changes("sesn_1", "session.thread_status_idle", {"session_thread_id": "sthr_1"})
    assert (thread.event_type, thread.object_id, thread.extra) == (
        "session.thread_idled",
        "sesn_1",
        {"session_thread_id": "sthr_1"},
    )
    assert session_changes("sesn_1", "agent.message", {}) == []
