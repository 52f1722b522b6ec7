"""SIGTERM drains (README "Guarantees"): a worker stopped mid-tool hands its session over through the lease at
once, an API process ends its event streams cleanly (the client resumes on the other one and misses nothing),
and either exits within a bound whatever its children do. The lease TTL is 60 s and every wait here is bounded
at 45 s: a hand-over that waited for the lease to expire fails."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from tests.shutdown.conftest import BOUND_SECONDS, Deployment, descendants, exit_seconds, signal_all

pytestmark = pytest.mark.timeout(600)


def test_a_worker_sigtermed_mid_tool_hands_its_session_over(deployment: Deployment) -> None:
    session_id = deployment.new_session()
    sent = deployment.send(session_id, "turn")
    deployment.started(session_id, 1)
    try:
        assert exit_seconds(deployment.holder(session_id)) < BOUND_SECONDS
        events = deployment.idle_after(session_id, sent)  # within the bound: not at lease expiry
    finally:
        deployment.restart_stopped()
    kinds = [e["type"] for e in events]
    assert "session.status_rescheduled" in kinds, kinds
    assert events[-1]["stop_reason"]["type"] == "end_turn", kinds
    (result,) = [e for e in events if e["type"] == "agent.tool_result"]
    assert result["is_error"], result  # cut short, answered by the journal as interrupted: never run again
    assert deployment.runs(session_id, 1) == 1


def test_an_open_stream_ends_cleanly_and_resumes_on_the_other_api_process(deployment: Deployment) -> None:
    session_id = deployment.new_session()
    received: list[dict[str, Any]] = []
    try:
        with deployment.client(0) as client, client.beta.sessions.events.stream(session_id) as stream:
            sent = deployment.send(session_id, "turn")
            for event in stream:  # ends without an exception when the server closes the stream
                received.append(event.model_dump())
                if event.type == "agent.tool_use":
                    deployment.started(session_id, 1)
                    assert exit_seconds(deployment.apis[0].runner or pytest.fail("no api0")) < BOUND_SECONDS
        deployment.go(session_id, 1)
        resume = {"Last-Event-ID": received[-1]["id"]}
        with deployment.client(1) as client:
            with client.beta.sessions.events.stream(session_id, extra_headers=resume) as stream:
                for event in stream:
                    received.append(event.model_dump())
                    if event.type == "session.status_idle":
                        break
    finally:
        deployment.restart_stopped()
    stored = deployment.idle_after(session_id, sent)
    ids = [e["id"] for e in stored]
    assert [e["id"] for e in received if e["id"] in ids] == ids  # nothing missed, nothing twice, in order
    assert received[0]["id"] == sent
    assert deployment.runs(session_id, 1) == 1


def test_a_worker_exits_within_the_bound_with_its_children_frozen(deployment: Deployment) -> None:
    session_id = deployment.new_session()
    sent = deployment.send(session_id, "turn")
    deployment.started(session_id, 1)
    holder = deployment.holder(session_id)
    frozen = descendants(holder.pid)
    assert frozen, "no child process under the worker"
    signal_all(frozen, signal.SIGSTOP)
    try:
        assert exit_seconds(holder) < BOUND_SECONDS
        events = deployment.idle_after(session_id, sent)
    finally:
        signal_all(frozen, signal.SIGKILL)  # whatever survived its parent
        deployment.restart_stopped()
    assert events[-1]["stop_reason"]["type"] == "end_turn", [e["type"] for e in events]
    assert deployment.runs(session_id, 1) == 1
