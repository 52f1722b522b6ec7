"""``client.beta.sessions.events`` (send, list, stream) through the official SDK, plus the exact SSE framing."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types.beta.sessions import (
    BetaManagedAgentsSendSessionEvents,
    BetaManagedAgentsSessionEvent,
    BetaManagedAgentsStreamSessionEvents,
)
from pydantic import TypeAdapter

from tests.conformance.helpers import error_body, new_session, off_spec, text_of, user_message, validated
from tests.live import LiveServer

EVENT = TypeAdapter[Any](BetaManagedAgentsSessionEvent)
STREAM_EVENT = TypeAdapter[Any](BetaManagedAgentsStreamSessionEvents)


def event_types(client: anthropic.Anthropic, session_id: str) -> list[str]:
    return [event.type for event in client.beta.sessions.events.list(session_id)]


def test_send_echoes_queued_events(client: anthropic.Anthropic) -> None:
    session = new_session(client)
    raw = client.beta.sessions.events.with_raw_response.send(
        session.id,
        events=[user_message("hello"), {"type": "system.message", "content": [{"type": "text", "text": "UTC"}]}],
    )
    sent = validated(BetaManagedAgentsSendSessionEvents, raw)
    assert sent.data is not None
    message, system = sent.data
    assert message.type == "user.message" and message.id.startswith("sevt_") and message.processed_at is None
    assert text_of(message) == "hello"
    assert system.type == "system.message" and system.processed_at is None
    listed = list(client.beta.sessions.events.list(session.id))
    assert [event.id for event in listed] == [message.id, system.id]


def test_interrupting_an_idle_session_is_accepted(client: anthropic.Anthropic) -> None:
    session = new_session(client)
    sent = client.beta.sessions.events.send(session.id, events=[{"type": "user.interrupt"}])
    assert sent.data is not None and sent.data[0].type == "user.interrupt" and sent.data[0].id.startswith("sevt_")
    retrieved = client.beta.sessions.retrieve(session.id)
    assert retrieved.status == "idle" and retrieved.archived_at is None


@pytest.mark.parametrize(
    "events",
    [
        [{"type": "user.telepathy"}],
        [{"type": "agent.message", "content": [{"type": "text", "text": "impersonation"}]}],
        [{"type": "user.message", "content": []}],
        [{"type": "user.message", "content": [{"type": "text", "text": "x"}], "extra": 1}],
        [{"type": "user.message", "content": [{"type": "video", "url": "x"}]}],
        [{"type": "system.message", "content": [{"type": "text", "text": "alone"}]}],
        [{"type": "system.message", "content": [{"type": "text", "text": "first"}]}, user_message("then")],
        [{"type": "user.tool_confirmation", "tool_use_id": "sevt_nothing", "result": "allow"}],
        [{"type": "user.custom_tool_result", "custom_tool_use_id": "sevt_nothing"}],
        [{"type": "user.tool_result", "tool_use_id": "sevt_nothing"}],
        [{"type": "user.define_outcome", "description": "x", "rubric": {"type": "text", "content": "y"}}] * 2,
        [user_message("ok"), {"type": "user.telepathy"}],
        [],
    ],
)
def test_invalid_events_are_refused_whole(client: anthropic.Anthropic, events: list[Any]) -> None:
    session = new_session(client)
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.beta.sessions.events.send(session.id, events=events)
    assert error_body(caught.value)["type"] == "error"
    assert event_types(client, session.id) == []


def test_list_filters_orders_and_pages(client: anthropic.Anthropic) -> None:
    session = new_session(client)
    for index in range(5):
        client.beta.sessions.events.send(session.id, events=[user_message(f"m{index}")])
    client.beta.sessions.update(session.id, title="t")
    everything = list(client.beta.sessions.events.list(session.id, limit=2))
    assert [event.type for event in everything] == ["user.message"] * 5 + ["session.updated"]
    for event in everything:
        EVENT.validate_python(event.model_dump())
    newest = list(client.beta.sessions.events.list(session.id, order="desc", limit=4))
    assert [event.id for event in newest] == [event.id for event in reversed(everything)]
    only = list(client.beta.sessions.events.list(session.id, types=["session.updated"]))
    assert [event.type for event in only] == ["session.updated"]
    stamp = everything[-1].processed_at
    assert stamp is not None
    assert [e.type for e in client.beta.sessions.events.list(session.id, created_at_gte=stamp)] == ["session.updated"]
    page = client.beta.sessions.events.list(session.id, limit=3)
    assert len(page.data) == 3 and page.next_page is not None
    with pytest.raises(anthropic.BadRequestError):
        client.beta.sessions.events.list(session.id, limit=3, order="desc", page=page.next_page)
    with pytest.raises(anthropic.BadRequestError):
        client.beta.sessions.events.list(session.id, types=off_spec(["user.telepathy"]))


def test_stream_delivers_a_sent_message(client: anthropic.Anthropic) -> None:
    session = new_session(client)
    with client.beta.sessions.events.stream(session.id, event_deltas=["agent.message"]) as stream:
        client.beta.sessions.events.send(session.id, events=[user_message("hi")])  # the stream is subscribed already
        first = next(iter(stream))
    assert first.type == "user.message" and first.id.startswith("sevt_")
    STREAM_EVENT.validate_python(first.model_dump())


def test_stream_ends_after_session_deleted(client: anthropic.Anthropic) -> None:
    session = new_session(client)
    with client.beta.sessions.events.stream(session.id) as stream:
        client.beta.sessions.delete(session.id)
        seen = [event.type for event in stream]  # the iteration ends when the server closes the stream
    assert seen == ["session.deleted"]


def test_stream_framing_is_exact(server: LiveServer, client: anthropic.Anthropic) -> None:
    session = new_session(client)
    headers = {"authorization": f"Bearer {server.api_key}", "accept": "application/json"}
    url = f"{server.base_url}/v1/sessions/{session.id}/events/stream"
    with httpx.Client(timeout=30, trust_env=False) as http, http.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["request-id"].startswith("req_")
        client.beta.sessions.events.send(session.id, events=[user_message("framed")])
        lines = response.iter_lines()
        frames: list[tuple[str, str]] = []
        while len(frames) < 2:  # the echo, then (0.5 s later) a keep-alive
            event_line, data_line, blank = next(lines), next(lines), next(lines)
            assert event_line.startswith("event: ") and data_line.startswith("data: ") and blank == ""
            frame = (event_line[7:], data_line[6:])
            if frames or frame[0] != "ping":  # a keep-alive may come first on a busy machine: framed the same
                frames.append(frame)
            else:
                assert json.loads(frame[1]) == {"type": "ping"}
    (kind, data), (ping, ping_data) = frames
    body = json.loads(data)
    assert kind == "user.message" == body["type"] and body["content"] == [{"type": "text", "text": "framed"}]
    STREAM_EVENT.validate_python(body)
    assert (ping, json.loads(ping_data)) == ("ping", {"type": "ping"})


def test_stream_refuses_unknown_delta_types(client: anthropic.Anthropic) -> None:
    session = new_session(client)
    with pytest.raises(anthropic.BadRequestError):
        client.beta.sessions.events.stream(session.id, event_deltas=off_spec(["session.status_idle"]))


def test_a_stream_resumed_with_last_event_id_sends_what_was_missed_then_live_events(
    client: anthropic.Anthropic,
) -> None:
    session = new_session(client)
    sent = client.beta.sessions.events.send(
        session.id, events=[user_message("one"), user_message("two"), user_message("three")]
    ).data
    assert sent is not None
    seen_last = sent[0].id
    with client.beta.sessions.events.stream(session.id, extra_headers={"Last-Event-ID": seen_last}) as stream:
        events = iter(stream)
        missed = [next(events), next(events)]
        live = client.beta.sessions.events.send(session.id, events=[user_message("four")]).data
        assert live is not None
        after = next(events)
    assert [event.model_dump()["id"] for event in missed] == [sent[1].id, sent[2].id]
    assert [event.model_dump()["content"][0]["text"] for event in missed] == ["two", "three"]
    assert after.model_dump()["id"] == live[0].id  # nothing doubled between the replay and the live tail


def test_a_resumed_stream_ends_if_the_session_was_deleted_meanwhile(client: anthropic.Anthropic) -> None:
    session = new_session(client)
    sent = client.beta.sessions.events.send(session.id, events=[user_message("one")]).data
    assert sent is not None
    with client.beta.sessions.events.stream(session.id, extra_headers={"Last-Event-ID": sent[0].id}) as stream:
        client.beta.sessions.delete(session.id)
        seen = [event.type for event in stream]
    assert seen == ["session.deleted"]


def test_resuming_after_an_event_of_another_session_is_refused(client: anthropic.Anthropic) -> None:
    mine, theirs = new_session(client), new_session(client)
    sent = client.beta.sessions.events.send(theirs.id, events=[user_message("not yours")]).data
    assert sent is not None
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.beta.sessions.events.stream(mine.id, extra_headers={"Last-Event-ID": sent[0].id})
    assert "Last-Event-ID" in refused.value.message
