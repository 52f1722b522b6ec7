"""``ContextCache``: the model's context of a session, kept between its requests and extended with the events that
follow, so a request converts only what is new (a turn's cost does not grow with the session's length).

A cache of ``context.build_messages``, never a second definition: the log owns one (``SessionLog.context``) and it
dies with the log (a warm log keeps it, ``harness.warm``; a log read whole starts it empty).

Invariants:

* ``messages(events, compaction)`` equals ``build_messages(events, compaction)`` for every ``events`` it is given.
  The builder (``ContextBuilder``) is fed each event once; what it has closed never changes but for its last
  message, and the still-open tail is finished on a copy (``peek``). Events given that do not continue the ones
  fed (fewer, or another event where the last fed one was), or another compaction (a compaction moves the
  context's start: it is a view), start the build afresh from the compaction's summary.
* Events are never changed but for ``processed_at``, which the context does not read; so an event restamped in
  the log (``SessionLog.rejoin``) leaves the cache as true as before.
* ``estimate(messages, …)`` equals ``compaction.estimate_tokens(messages, …)``: the sizes of the leading messages
  equal (by value) to the ones measured last are summed again from the kept running totals, the rest measured.
* ``notes(events, strategy)`` equals ``Extensions.notes(events)`` for that strategy, folded incrementally the same
  way (events that do not continue the ones folded fold afresh).
* The messages returned are shared with the cache and later requests: read-only, like events. What the adapters
  made of them is kept on them (``Message.wire``) and in ``memo`` (``ModelRequest.memo``), both checked before use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from corral.harness.compaction import message_size, preamble_chars, tokens_of
from corral.harness.context import Compaction, ContextBuilder
from corral.harness.extensions.loaded import recorded_notes
from corral.harness.models.base import RequestMemo, ToolSpec
from corral.harness.models.content import Message
from corral.session import Event


@dataclass
class _Fed:
    """How far a fold over a log's events went: how many, and the id of the last (to tell the log continues)."""

    count: int = 0
    last_id: str | None = None

    def continued_by(self, events: Sequence[Event]) -> bool:
        return self.count <= len(events) and (self.count == 0 or events[self.count - 1].id == self.last_id)

    def new(self, events: Sequence[Event]) -> Sequence[Event]:
        """The events after the ones fed, now marked fed."""
        fresh = events[self.count :]
        self.count = len(events)
        self.last_id = events[-1].id if events else None
        return fresh


@dataclass
class _Sizes:
    """The messages measured last and the running totals of their sizes (characters, images) up to each."""

    measured: list[Message] = field(default_factory=lambda: list[Message]())
    chars: list[int] = field(default_factory=lambda: [0])
    images: list[int] = field(default_factory=lambda: [0])

    def totals(self, messages: list[Message]) -> tuple[int, int]:
        kept = self._common(messages)
        del self.chars[kept + 1 :], self.images[kept + 1 :]
        for message in messages[kept:]:
            size = message_size(message)
            self.chars.append(self.chars[-1] + size[0])
            self.images.append(self.images[-1] + size[1])
        self.measured = messages[:]  # these very objects: the next comparison finds most of them identical at once
        return self.chars[-1], self.images[-1]

    def _common(self, messages: list[Message]) -> int:
        """How many leading messages equal the ones measured (compared in C; equal objects match at once)."""
        count = min(len(messages), len(self.measured))
        if messages[:count] == self.measured[:count]:
            return count
        return next(i for i, (a, b) in enumerate(zip(messages, self.measured, strict=False)) if a != b)


class ContextCache:
    def __init__(self) -> None:
        self._start(None)
        self._sizes = _Sizes()
        self._notes: dict[str, Any] = {}
        self._noted = _Fed()
        self._strategy: str | None = None
        #: what the adapters assembled from the session's last request (``ModelRequest.memo``)
        self.memo = RequestMemo()

    def _start(self, compaction: Compaction | None) -> None:
        self._builder = ContextBuilder.after(compaction)
        self._compaction = compaction
        self._fed = _Fed()

    def messages(self, events: Sequence[Event], compaction: Compaction | None = None) -> list[Message]:
        """``build_messages(events, compaction)``, building only from the events not seen before."""
        if compaction != self._compaction or not self._fed.continued_by(events):
            self._start(compaction)
        builder = self._builder
        for event in self._fed.new(events):
            if event.seq > builder.through:
                builder.add(event)
        return builder.peek()

    def estimate(self, messages: list[Message], system: str | None, tools: Sequence[ToolSpec]) -> int:
        """``compaction.estimate_tokens(messages, system, tools)``, measuring only the messages not seen before."""
        chars, images = self._sizes.totals(messages)
        return tokens_of(preamble_chars(system, tools) + chars, images)

    def notes(self, events: Sequence[Event], strategy: str) -> dict[str, Any]:
        """``Extensions.notes(events)`` for a ``strategy`` of that name, folding only the events not seen before."""
        if strategy != self._strategy or not self._noted.continued_by(events):
            self._notes, self._noted, self._strategy = {}, _Fed(), strategy
        for event in self._noted.new(events):
            notes = recorded_notes(event, strategy)
            if notes is not None:
                self._notes.update(notes)
        return dict(self._notes)
