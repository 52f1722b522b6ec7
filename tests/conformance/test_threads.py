"""``client.beta.sessions.threads`` through the official SDK, on both engines (api.md §9): list (paging, statuses),
retrieve, archive, and each thread's events and stream.

This package's server runs no agent loop, so child threads are made the way the runtime makes them: through the
store (``ThreadStore.create_thread``), on the server's own database.
"""

from __future__ import annotations

import anthropic
import anyio
import pytest
from anthropic.types.beta.sessions import BetaManagedAgentsSessionThread, BetaManagedAgentsStreamSessionThreadEvents

from corral.db.engines import open_database
from corral.ids import new_id
from corral.session import SessionStore
from corral.session.thread_store import NewThread
from tests.conformance.helpers import new_session, validated
from tests.live import LiveServer


def _children(server: LiveServer, session_id: str, primary: str, names: list[str]) -> list[str]:
    """Child threads of the session, spawned by its primary thread, running its agent under ``names``."""

    async def make() -> list[str]:
        db = open_database(server.db_url)
        await db.open()
        store = SessionStore(db)
        try:
            record = await store.get_session(session_id)
            made: list[str] = []
            for name in names:
                new = NewThread(session_id, new_id("thread"), primary, dict(record.doc["agent"]), name)
                made.append((await store.threads.create_thread(new)).id)
            return made
        finally:
            await store.aclose()
            await db.close()

    return anyio.run(make)


def test_threads_list_retrieve_archive_and_their_events(server: LiveServer, client: anthropic.Anthropic) -> None:
    session = new_session(client)
    threads = client.beta.sessions.threads
    (primary,) = threads.list(session.id).data
    assert primary.id.startswith("sthr_") and primary.parent_thread_id is None and primary.session_id == session.id
    assert primary.status == "idle" and primary.agent.type == "agent" and primary.agent.id == session.agent.id
    assert primary.stats is None and primary.usage is None and primary.workflow_run_id is None
    first, second = _children(server, session.id, primary.id, ["researcher", "writer"])
    raw = threads.with_raw_response.retrieve(first, session_id=session.id)
    child = validated(BetaManagedAgentsSessionThread, raw)
    assert child.parent_thread_id == primary.id and child.status == "idle" and child.agent.type == "agent"
    assert [thread.id for thread in threads.list(session.id, limit=1)] == [primary.id, first, second]
    assert [thread.id for thread in threads.list(session.id, statuses=["terminated"])] == []
    created = [e for e in client.beta.sessions.events.list(session.id) if e.type == "session.thread_created"]
    assert [(e.session_thread_id, e.agent_name) for e in created] == [(first, "researcher"), (second, "writer")]

    with threads.events.stream(first, session_id=session.id) as stream:
        archived = threads.archive(first, session_id=session.id)  # the stream is subscribed already
        seen = _until(stream, "session.thread_status_terminated")
    assert seen == ["session.status_terminated", "session.thread_status_terminated"]
    assert archived.status == "terminated" and archived.archived_at is not None
    assert threads.archive(first, session_id=session.id).archived_at == archived.archived_at
    assert [e.type for e in threads.events.list(first, session_id=session.id)] == seen
    posted = [e for e in client.beta.sessions.events.list(session.id) if e.type == "session.thread_status_terminated"]
    assert [(e.session_thread_id, e.agent_name) for e in posted] == [(first, "researcher")]
    assert [t.id for t in threads.list(session.id, statuses=["idle"])] == [primary.id, second]
    assert [e.type for e in threads.events.list(primary.id, session_id=session.id)] == [
        e.type for e in client.beta.sessions.events.list(session.id)
    ]


def test_thread_refusals(server: LiveServer, client: anthropic.Anthropic) -> None:
    session, other = new_session(client), new_session(client)
    threads = client.beta.sessions.threads
    (primary,) = threads.list(session.id).data
    (child,) = _children(server, session.id, primary.id, ["helper"])
    with pytest.raises(anthropic.BadRequestError, match="archive the session"):
        threads.archive(primary.id, session_id=session.id)
    with pytest.raises(anthropic.NotFoundError):
        threads.retrieve(child, session_id=other.id)
    with pytest.raises(anthropic.NotFoundError):
        threads.retrieve("sthr_missing000000000000000", session_id=session.id)
    assert [s.id for s in client.beta.sessions.list(limit=100) if s.id.startswith("sthr_")] == []
    client.beta.sessions.archive(session.id)
    assert {t.id: t.status for t in threads.list(session.id)} == {primary.id: "terminated", child: "terminated"}
    client.beta.sessions.delete(other.id)
    client.beta.sessions.delete(session.id)
    with pytest.raises(anthropic.NotFoundError):
        threads.list(session.id)


def _until(stream: anthropic.Stream[BetaManagedAgentsStreamSessionThreadEvents], last: str) -> list[str]:
    """The types of the events ``stream`` sends, up to the first of type ``last``."""
    seen: list[str] = []
    for event in stream:
        seen.append(event.type)
        if event.type == last:
            break
    return seen
