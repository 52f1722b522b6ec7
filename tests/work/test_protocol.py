"""The work protocol through the official SDK's own calls (api.md §10.2–10.3): keys, the state machine, leases,
who may call what, and the documented refusals."""

from __future__ import annotations

import base64
import json
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass

import anthropic
import pytest
from anthropic.types.beta.environments import BetaHeartbeatPreconditionFailedError, BetaSelfHostedWork
from anthropic.types.beta.sessions import BetaManagedAgentsUserToolResultEventParams

from corral._types import json_object
from tests.live import LiveServer
from tests.sdk_server import sdk
from tests.work.conftest import Setup

pytestmark = pytest.mark.timeout(120)


@dataclass(frozen=True)
class Queue:
    """A fresh self-hosted environment (its own queue: no other test's sessions in it) and a worker's client."""

    environment_id: str
    key: str
    key_id: str
    worker: anthropic.Anthropic


@contextmanager
def fresh_queue(live: LiveServer, client: anthropic.Anthropic, name: str) -> Generator[Queue]:
    environment = client.beta.environments.create(name=name, config={"type": "self_hosted"})
    made = json_object(client.post(f"/v1/environments/{environment.id}/keys", body={"name": name}, cast_to=object))
    assert made is not None
    with sdk(live, str(made["key"])) as worker:
        yield Queue(environment.id, str(made["key"]), str(made["id"]), worker)


def session_in(client: anthropic.Anthropic, setup: Setup, environment_id: str) -> str:
    return client.beta.sessions.create(agent=setup.agent_id, environment_id=environment_id).id


def claim(queue: Queue, worker_id: str = "host-a") -> BetaSelfHostedWork:
    item = queue.worker.beta.environments.work.poll(queue.environment_id, block_ms=999, anthropic_worker_id=worker_id)
    assert item is not None
    return item


def sessions_token(item: BetaSelfHostedWork) -> str:
    secret = item.secret or ""
    payload = json_object(json.loads(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))))
    assert payload is not None
    return str(payload["sessions_token"])


def tool_result(tool_use_id: str) -> BetaManagedAgentsUserToolResultEventParams:
    return {"type": "user.tool_result", "tool_use_id": tool_use_id, "content": [{"type": "text", "text": "ok"}]}


def test_keys_are_listed_by_prefix_hashed_at_rest_and_revoked(
    setup: Setup, client: anthropic.Anthropic, server: LiveServer
) -> None:
    with fresh_queue(server, client, "keys") as queue:
        listed = json_object(client.get(f"/v1/environments/{queue.environment_id}/keys", cast_to=object))
        assert listed is not None
        [key] = listed["data"]
        assert queue.key.startswith(key["prefix"]) and "key" not in key and key["revoked_at"] is None
        assert queue.worker.beta.environments.work.poll(queue.environment_id) is None  # the key opens its queue
        client.post(f"/v1/environments/{queue.environment_id}/keys/{queue.key_id}/revoke", cast_to=object)
        with pytest.raises(anthropic.AuthenticationError):
            queue.worker.beta.environments.work.poll(queue.environment_id)


def test_a_work_item_goes_through_the_state_machine(
    setup: Setup, client: anthropic.Anthropic, server: LiveServer
) -> None:
    with fresh_queue(server, client, "states") as queue:
        work = queue.worker.beta.environments.work
        session_id = session_in(client, setup, queue.environment_id)
        assert client.beta.environments.work.stats(queue.environment_id).depth == 1  # queued when created
        item = claim(queue)
        assert (item.state, item.data.id) == ("queued", session_id) and item.secret
        stats = client.beta.environments.work.stats(queue.environment_id)
        assert (stats.depth, stats.pending, stats.workers_polling) == (0, 1, 1)
        again = work.poll(queue.environment_id, reclaim_older_than_ms=0, anthropic_worker_id="host-a")
        assert again is not None and again.id == item.id  # never acked: delivered again
        assert work.ack(item.id, environment_id=queue.environment_id).state == "starting"
        first = work.heartbeat(item.id, environment_id=queue.environment_id, expected_last_heartbeat="NO_HEARTBEAT")
        assert (first.state, first.lease_extended, first.ttl_seconds) == ("active", True, 90)
        with pytest.raises(BetaHeartbeatPreconditionFailedError) as stale:
            work.heartbeat(item.id, environment_id=queue.environment_id, expected_last_heartbeat="NO_HEARTBEAT")
        assert stale.value.status_code == 412 and stale.value.details.current_state.state == "active"
        assert client.beta.environments.work.retrieve(item.id, environment_id=queue.environment_id).secret is None
        stopping = client.beta.environments.work.stop(item.id, environment_id=queue.environment_id)
        assert stopping.state == "stopping" and stopping.stop_requested_at is not None
        told = work.heartbeat(item.id, environment_id=queue.environment_id, expected_last_heartbeat="stale is fine")
        assert (told.state, told.lease_extended) == ("stopping", False)  # the worker is told to shut down
        assert work.stop(item.id, environment_id=queue.environment_id, force=True).state == "stopped"
        with pytest.raises(anthropic.ConflictError):
            work.stop(item.id, environment_id=queue.environment_id, force=True)
        with pytest.raises(anthropic.ConflictError):
            work.heartbeat(item.id, environment_id=queue.environment_id, expected_last_heartbeat="x")
        updated = client.beta.environments.work.update(
            item.id, environment_id=queue.environment_id, metadata={"host": "a", "gone": None}
        )
        assert updated.metadata == {"host": "a"}
        assert [i.id for i in work.list(queue.environment_id)] == [item.id]
        client.beta.sessions.events.send(
            session_id, events=[{"type": "user.message", "content": [{"type": "text", "text": "More."}]}]
        )
        assert client.beta.environments.work.stats(queue.environment_id).depth == 1  # queued again for a worker


def test_a_lapsed_lease_puts_the_item_back_in_the_queue(
    setup: Setup, client: anthropic.Anthropic, server: LiveServer
) -> None:
    with fresh_queue(server, client, "lapse") as queue:
        work = queue.worker.beta.environments.work
        session_in(client, setup, queue.environment_id)
        item = claim(queue, "host-a")
        work.ack(item.id, environment_id=queue.environment_id)
        beat = work.heartbeat(
            item.id, environment_id=queue.environment_id, expected_last_heartbeat="NO_HEARTBEAT", desired_ttl_seconds=1
        )
        assert beat.ttl_seconds == 1
        again = None
        for _ in range(30):  # each empty long-poll waits for the moment the lease lapses, not for a fixed time
            again = work.poll(queue.environment_id, block_ms=999, anthropic_worker_id="host-b")
            if again is not None:
                break
        assert again is not None and again.id == item.id and again.state == "queued"
        assert again.secret != item.secret  # a fresh sessions token; the old holder's is void
        with pytest.raises(BetaHeartbeatPreconditionFailedError):
            work.heartbeat(item.id, environment_id=queue.environment_id, expected_last_heartbeat=beat.last_heartbeat)
        with pytest.raises(anthropic.AuthenticationError):
            with sdk(server, sessions_token(item)) as old:
                old.beta.sessions.retrieve(item.data.id)
        work.ack(again.id, environment_id=queue.environment_id)
        assert work.heartbeat(again.id, environment_id=queue.environment_id, expected_last_heartbeat="NO_HEARTBEAT")


def test_a_work_secret_opens_its_own_session_only(
    setup: Setup, client: anthropic.Anthropic, server: LiveServer
) -> None:
    with fresh_queue(server, client, "secrets") as queue:
        first, second = session_in(client, setup, queue.environment_id), session_in(client, setup, queue.environment_id)
        item = claim(queue)
        other = second if item.data.id == first else first
        with sdk(server, sessions_token(item)) as scoped:
            assert scoped.beta.sessions.retrieve(item.data.id).id == item.data.id
            with pytest.raises(anthropic.PermissionDeniedError) as refused:
                scoped.beta.sessions.retrieve(other)
            assert f"limited to session {item.data.id}" in refused.value.message
            with pytest.raises(anthropic.PermissionDeniedError):
                scoped.beta.sessions.events.send(
                    other, events=[{"type": "user.message", "content": [{"type": "text", "text": "hi"}]}]
                )
            with pytest.raises(anthropic.PermissionDeniedError):
                scoped.beta.environments.work.poll(queue.environment_id)
            queue.worker.beta.environments.work.ack(item.id, environment_id=queue.environment_id)
            beat = scoped.beta.environments.work.heartbeat(
                item.id, environment_id=queue.environment_id, expected_last_heartbeat="NO_HEARTBEAT"
            )
            assert beat.lease_extended


def test_each_credential_opens_only_its_calls(setup: Setup, client: anthropic.Anthropic, server: LiveServer) -> None:
    with fresh_queue(server, client, "scopes-a") as queue, fresh_queue(server, client, "scopes-b") as elsewhere:
        with pytest.raises(anthropic.PermissionDeniedError):
            client.beta.environments.work.list(queue.environment_id)  # the list takes the environment key only
        with pytest.raises(anthropic.PermissionDeniedError):
            queue.worker.beta.environments.work.stats(queue.environment_id)  # stats take an API key
        with pytest.raises(anthropic.PermissionDeniedError):
            queue.worker.beta.environments.work.poll(elsewhere.environment_id)
        with pytest.raises(anthropic.PermissionDeniedError):
            queue.worker.beta.agents.list()
        with pytest.raises(anthropic.PermissionDeniedError):
            queue.worker.beta.sessions.retrieve(session_in(client, setup, elsewhere.environment_id))


def test_bad_input_is_refused_with_the_field_named(
    setup: Setup, client: anthropic.Anthropic, server: LiveServer
) -> None:
    with fresh_queue(server, client, "bad-input") as queue:
        session_in(client, setup, queue.environment_id)
        item = claim(queue)
        work = client.beta.environments.work
        with pytest.raises(anthropic.BadRequestError) as unknown:
            work.stop(item.id, environment_id=queue.environment_id, extra_body={"forse": True})
        assert "forse" in unknown.value.message
        with pytest.raises(anthropic.BadRequestError) as unknown_update:
            work.update(item.id, environment_id=queue.environment_id, metadata={}, extra_body={"labels": {}})
        assert "labels" in unknown_update.value.message
        with pytest.raises(anthropic.BadRequestError) as zero:
            queue.worker.beta.environments.work.poll(queue.environment_id, block_ms=0)
        assert "block_ms" in zero.value.message
        with pytest.raises(anthropic.BadRequestError):
            client.post(f"/v1/environments/{queue.environment_id}/keys", body={"nmae": "x"}, cast_to=object)
        cloud = client.beta.environments.create(name="not-self-hosted", config={"type": "cloud"})
        with pytest.raises(anthropic.BadRequestError):
            client.post(f"/v1/environments/{cloud.id}/keys", body={}, cast_to=object)


def test_a_tool_result_is_taken_once_per_call(setup: Setup, client: anthropic.Anthropic, server: LiveServer) -> None:
    with fresh_queue(server, client, "results") as queue:
        session_id = session_in(client, setup, queue.environment_id)
        with client.beta.sessions.events.stream(session_id) as stream:
            client.beta.sessions.events.send(
                session_id, events=[{"type": "user.message", "content": [{"type": "text", "text": "Note it."}]}]
            )
            call_id, stop = "", ""
            for event in stream:
                if event.type == "agent.tool_use":
                    call_id = event.id
                if event.type == "session.status_idle":
                    stop = event.stop_reason.type
                    break
        assert call_id and stop == "requires_action"  # waiting for the worker's result
        events = queue.worker.beta.sessions.events
        events.send(session_id, events=[tool_result(call_id)])
        with pytest.raises(anthropic.ConflictError) as twice:
            events.send(session_id, events=[tool_result(call_id)])  # a retry after a lost response: not written again
        assert call_id in twice.value.message
        with pytest.raises(anthropic.BadRequestError):
            events.send(session_id, events=[tool_result("sevt_nothing")])
        answered = [e for e in client.beta.sessions.events.list(session_id) if e.type == "user.tool_result"]
        assert len(answered) == 1
