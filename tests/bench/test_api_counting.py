"""The api suite's throughput counts stored events apart from live preview frames (made-up frames; no timing)."""

from __future__ import annotations

from corral.bench.suites.api.client import Seen, Stream


def frame(kind: str) -> Seen:
    return Seen(kind, 0.0, 0.0, "{}")


def test_preview_frames_are_not_stored_events() -> None:
    kinds = ["user.message", "session.status_running", "event_start", "event_delta", "event_delta"]
    kinds += ["agent.message", "session.status_idle"]
    stream = Stream(events=[frame(kind) for kind in kinds])
    assert (stream.stored_events, len(stream.events)) == (4, 7)
