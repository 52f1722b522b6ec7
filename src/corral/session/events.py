"""Events: the immutable rows of a session's log (their types are ``corral.vocab.events.EventType``).

Invariants:

* An ``Event`` never changes after it is appended, except ``processed_at`` of a queued client event,
  which moves once from null to the time the agent took it up.
* ``payload`` is the JSON text of the type-specific fields only; it never contains ``type``, ``id`` or
  ``processed_at``. ``wire_json()`` is therefore built by string concatenation, without re-parsing.
* Deltas (token-level previews) are not ``Event`` objects: they never reach the log.
* ``data()`` parses the payload once per ``Event`` object and hands every caller the same objects: callers
  read them and never change them (a harness wake folds and renders each event, so parsing twice would
  double the largest cost of reading a long session).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from corral._types import JSONObject
from corral.vocab.events import CLIENT_EVENT_TYPES, EVENT_TYPES, EventType

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def loads(text: str) -> Any:
    """Parse JSON text of the log (orjson; the standard parser for what orjson refuses, e.g. integers
    beyond 64 bits, which ``dumps`` can write)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


_RESERVED = ("type", "id", "processed_at")


def dumps(value: Any) -> str:
    """Compact JSON, UTF-8 kept as is (the one serialiser of the log and the wire)."""
    return _dumps(value)


@dataclass(frozen=True, slots=True)
class Event:
    session_id: str
    seq: int
    id: str
    type: EventType
    processed_at: str | None
    created_at: str
    payload: str
    _parsed: JSONObject | None = field(default=None, init=False, repr=False, compare=False, hash=False)

    def data(self) -> JSONObject:
        """The type-specific fields, parsed once (read-only: shared by every caller)."""
        parsed = self._parsed
        if parsed is None:
            parsed = loads(self.payload)
            object.__setattr__(self, "_parsed", parsed)
        return parsed

    def wire_json(self) -> str:
        """The event as the API sends it: ``{"type","id","processed_at", ...fields}``."""
        head = '{"type":' + _dumps(self.type) + ',"id":' + _dumps(self.id) + ',"processed_at":'
        head += _dumps(self.processed_at)
        if self.payload == "{}":
            return head + "}"
        return head + "," + self.payload[1:]

    def wire(self) -> JSONObject:
        return {"type": self.type, "id": self.id, "processed_at": self.processed_at, **self.data()}


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. ``queued`` client events get ``processed_at`` null until the agent takes them."""

    type: EventType
    data: JSONObject = field(default_factory=lambda: dict[str, Any]())
    queued: bool = False
    id: str | None = None

    def __post_init__(self) -> None:
        for key in _RESERVED:
            if key in self.data:
                raise ValueError(f"event data must not carry {key!r}")


@dataclass(frozen=True, slots=True)
class Delta:
    """A live-only preview (``event_start`` / ``event_delta``) for SSE subscribers that opted in."""

    session_id: str
    body: JSONObject

    @property
    def kind(self) -> str:
        return str(self.body.get("type", ""))

    def wire_json(self) -> str:
        return dumps(self.body)


__all__ = ["CLIENT_EVENT_TYPES", "EVENT_TYPES", "Delta", "Event", "EventType", "NewEvent", "dumps", "loads"]
