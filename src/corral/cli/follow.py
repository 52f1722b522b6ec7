"""Following a session's stream across reconnects: a dropped connection (a server restart, a proxy timeout) is
reopened with ``Last-Event-ID`` naming the last event seen, so the server replays what was missed from its log and
nothing is lost or shown twice.

Invariant: ``Follower.last_id`` is the id of the last event handed out; every reconnect resumes after it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, cast

import anthropic
import httpx2

from corral._types import JSONObject

if TYPE_CHECKING:
    from anthropic.types.beta.sessions import BetaManagedAgentsEventParams as EventParams

#: how long a stream may stay unreachable before following gives up
RECONNECT_FOR_SECONDS = 120.0
DROPPED = (anthropic.APIConnectionError, anthropic.InternalServerError, httpx2.TransportError)


class Follower:
    def __init__(
        self, client: anthropic.Anthropic, session_id: str, last_id: str | None, on_reconnect: Callable[[], None]
    ) -> None:
        self.client = client
        self.session_id = session_id
        self.last_id = last_id
        self.on_reconnect = on_reconnect

    def events(self) -> Iterator[JSONObject]:
        """The session's events after ``last_id`` (live only when None), for as long as the caller reads."""
        down_since: float | None = None
        while True:
            try:
                for event in self._open():
                    down_since = None
                    yield event
            except DROPPED:
                now = time.monotonic()
                if down_since is None:
                    down_since = now
                    self.on_reconnect()
                elif now - down_since > RECONNECT_FOR_SECONDS:
                    raise
                time.sleep(min(2.0, 0.1 + (now - down_since) / 4))  # noqa: TID251 - a synchronous client backing off

    def _open(self) -> Iterator[JSONObject]:
        headers = {"Last-Event-ID": self.last_id} if self.last_id else None
        with self.client.beta.sessions.events.stream(self.session_id, extra_headers=headers) as stream:
            for event in stream:
                data = event.model_dump(mode="json")
                self.last_id = str(data.get("id") or self.last_id)
                yield data


def history(client: anthropic.Anthropic, session_id: str) -> list[JSONObject]:
    """Every event of the session so far, oldest first."""
    return [event.model_dump(mode="json") for event in client.beta.sessions.events.list(session_id, order="asc")]


def user_message(text: str) -> JSONObject:
    return {"type": "user.message", "content": [{"type": "text", "text": text}]}


def send(client: anthropic.Anthropic, session_id: str, events: list[JSONObject]) -> str:
    """Send ``events``; the id of the last one as the server recorded it (where a stream of what follows resumes)."""
    sent = client.beta.sessions.events.send(
        session_id, events=cast("list[EventParams]", events)
    )  # the server validates
    recorded = [event.model_dump(mode="json") for event in sent.data or []]
    return str(recorded[-1]["id"])
