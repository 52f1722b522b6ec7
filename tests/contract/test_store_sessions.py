"""Session rows: create, get, list (filters, order, keyset pages), update, archive, delete."""

from __future__ import annotations

import pytest

from corral.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from corral.paging import Cursor
from corral.session import NewEvent, SessionFilter, SessionStore

from .helpers import WORKSPACE, make_session, message, new_session

pytestmark = pytest.mark.anyio


async def test_create_and_get(store: SessionStore) -> None:
    record, events = await store.create_session(new_session("first"))
    assert events == []
    assert record.id.startswith("sesn_")
    assert (record.status, record.last_seq, record.runnable, record.archived_at) == ("idle", 0, False, None)
    assert record.doc == {"title": "first"}
    assert record.usage["input_tokens"] == 0 and record.pending_actions == [] and record.active_seconds == 0
    assert record.created_at == record.updated_at and record.created_at.endswith("Z")
    assert await store.get_session(record.id) == record
    assert await store.get_session(record.id, WORKSPACE) == record


async def test_get_unknown_or_other_workspace_is_not_found(store: SessionStore) -> None:
    record = await make_session(store)
    with pytest.raises(NotFound):
        await store.get_session("sesn_doesnotexist")
    with pytest.raises(NotFound):
        await store.get_session(record.id, "wrkspc_other")


async def test_create_with_initial_events_starts_running(store: SessionStore) -> None:
    hello = NewEvent("user.message", {"content": [{"type": "text", "text": "hi"}]}, queued=True)
    record, events = await store.create_session(new_session(initial=[hello]))
    assert [(e.seq, e.type) for e in events] == [(1, "user.message"), (2, "session.status_running")]
    assert events[0].processed_at is None and events[1].processed_at is not None
    assert (record.status, record.last_seq, record.runnable) == ("running", 2, True)
    assert record.running_since is not None
    assert await store.get_events(record.id) == events


async def test_create_refuses_a_bad_initial_batch(store: SessionStore) -> None:
    with pytest.raises(InvalidRequest):
        await store.create_session(new_session(initial=[NewEvent("system.message", {"content": []})]))
    records, _ = await store.list_sessions(SessionFilter(WORKSPACE), order="asc", limit=10, cursor=None)
    assert records == []


async def test_list_filters_and_pages_both_ways(store: SessionStore) -> None:
    made = [await make_session(store, f"s{i}") for i in range(7)]
    await make_session(store, "elsewhere", workspace="wrkspc_other")
    flt = SessionFilter(WORKSPACE)
    for order in ("asc", "desc"):
        expected = [r.id for r in (made if order == "asc" else made[::-1])]
        seen: list[str] = []
        cursor: Cursor | None = None
        while True:
            page, more = await store.list_sessions(flt, order=order, limit=3, cursor=cursor)
            seen += [r.id for r in page]
            if not more:
                break
            last = page[-1]
            cursor = Cursor([last.created_at, last.id], "next", order, "sessions")
        assert seen == expected
        # and back: the page before the last one seen
        first = next(r for r in made if r.id == seen[3])
        back, more = await store.list_sessions(
            flt, order=order, limit=3, cursor=Cursor([first.created_at, first.id], "prev", order, "sessions")
        )
        assert [r.id for r in back] == seen[:3] and not more


async def test_list_filters(store: SessionStore) -> None:
    idle = await make_session(store, "idle")
    running = await make_session(store, "running")
    await store.emit_event(running.id, NewEvent("session.status_running"))
    archived = await make_session(store, "archived")
    await store.archive_session(archived.id, WORKSPACE)

    async def ids(**kwargs: object) -> set[str]:
        page, _ = await store.list_sessions(SessionFilter(WORKSPACE, **kwargs), order="asc", limit=50, cursor=None)  # type: ignore[arg-type]
        return {r.id for r in page}

    assert await ids() == {idle.id, running.id}
    assert await ids(include_archived=True) == {idle.id, running.id, archived.id}
    assert await ids(statuses=("running",)) == {running.id}
    assert await ids(statuses=("terminated",), include_archived=True) == {archived.id}
    assert await ids(created_gt=idle.created_at) == {running.id}
    assert await ids(created_lte=idle.created_at) == {idle.id}
    assert await ids(agent_id="agent_other") == set()
    assert await ids(agent_id="agent_contract", agent_version=1) == {idle.id, running.id}
    assert await ids(none_match=True) == set()


async def test_update_title_and_metadata_emits_session_updated(store: SessionStore) -> None:
    record = await make_session(store)
    updated = await store.update_session(record.id, WORKSPACE, {"title": "new", "metadata": {"a": "1", "b": "2"}})
    assert updated.doc["title"] == "new" and updated.doc["metadata"] == {"a": "1", "b": "2"}
    again = await store.update_session(record.id, WORKSPACE, {"metadata": {"a": None}, "title": "new"})
    assert again.doc["metadata"] == {"b": "2"}
    events = await store.get_events(record.id)
    assert [(e.seq, e.type) for e in events] == [(1, "session.updated"), (2, "session.updated")]
    assert events[0].data() == {"title": "new", "metadata": {"a": "1", "b": "2"}}
    assert events[1].data() == {"metadata": {"b": "2"}}
    unchanged = await store.update_session(record.id, WORKSPACE, {"title": "new"})
    assert unchanged.last_seq == 2


async def test_update_rules(store: SessionStore) -> None:
    record = await make_session(store)
    with pytest.raises(InvalidRequest):
        await store.update_session(record.id, WORKSPACE, {"metadata": {f"k{i}": "v" for i in range(17)}})
    await store.emit_event(record.id, NewEvent("session.status_running"))
    with pytest.raises(Conflict) as refused:
        await store.update_session(record.id, WORKSPACE, {"agent": {"id": "agent_other"}})
    assert refused.value.code == ErrorCode.SESSION_NOT_IDLE
    with pytest.raises(NotFound):
        await store.update_session(record.id, "wrkspc_other", {"title": "x"})


async def test_archive_terminates_and_is_idempotent(store: SessionStore) -> None:
    record = await make_session(store)
    await store.emit_event(record.id, NewEvent("session.status_running"))
    archived = await store.archive_session(record.id, WORKSPACE)
    assert archived.archived_at is not None and archived.status == "terminated" and not archived.runnable
    assert archived.running_since is None
    events = await store.get_events(record.id)
    assert [e.type for e in events] == ["session.status_running", "session.status_terminated"]
    again = await store.archive_session(record.id, WORKSPACE)
    assert again.last_seq == archived.last_seq and again.archived_at == archived.archived_at
    with pytest.raises(Conflict):
        await store.update_session(record.id, WORKSPACE, {"title": "x"})


async def test_delete_removes_the_session_and_its_log(store: SessionStore) -> None:
    record = await make_session(store)
    await store.emit_events(record.id, [message(i) for i in range(5)])
    with pytest.raises(NotFound):
        await store.delete_session(record.id, "wrkspc_other")
    await store.delete_session(record.id, WORKSPACE)
    with pytest.raises(NotFound):
        await store.get_session(record.id)
    assert await store.get_events(record.id) == []
    with pytest.raises(NotFound):
        await store.emit_event(record.id, message(9))
    with pytest.raises(NotFound):
        await store.delete_session(record.id, WORKSPACE)
