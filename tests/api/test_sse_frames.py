"""A burst of queued items goes out as one write: the same frames, in order, ending where the stream ends."""

from __future__ import annotations

from corral.api.sse import frame, frames_of
from corral.session import Closed, Event, EventType


def event(seq: int, kind: EventType = "agent.message") -> Event:
    return Event("sesn_1", seq, f"sevt_{seq}", kind, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "{}")


def test_a_burst_is_the_frames_of_its_items_in_order() -> None:
    items = [event(1), event(2, "session.status_idle"), event(3)]
    body, done = frames_of(list(items))
    assert body == b"".join(frame(e.type, e.wire_json()) for e in items)
    assert not done


def test_a_burst_ends_at_the_end_of_the_stream() -> None:
    body, done = frames_of([event(1), Closed("fell behind"), event(2)])
    assert (body, done) == (frame("agent.message", event(1).wire_json()), True)
    deleted = event(2, "session.deleted")
    body, done = frames_of([deleted, event(3)])
    assert (body, done) == (frame("session.deleted", deleted.wire_json()), True)
