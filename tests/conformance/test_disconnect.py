"""SSE clients that vanish cost nothing: their subscribers are detached and the server stays healthy."""

from __future__ import annotations

import threading
import time

import anthropic
import httpx

from tests.conformance.helpers import new_session, user_message
from tests.live import LiveServer


def stats(http: httpx.Client) -> dict[str, int]:
    response = http.get("/v1/corral/stats")
    assert response.status_code == 200
    return response.json()


def wait_for(http: httpx.Client, expected: dict[str, int], timeout: float = 60.0) -> dict[str, int]:
    """The server's stream statistics once they are ``expected`` (they have no feed: looked at again and again),
    or as they are after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        seen = stats(http)
        if seen == expected or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)  # noqa: TID251 - polling another process from a synchronous test


def test_disconnecting_mid_stream_frees_everything(server: LiveServer, client: anthropic.Anthropic) -> None:
    headers = {"authorization": f"Bearer {server.api_key}"}
    sessions = [new_session(client) for _ in range(3)]
    stop = threading.Event()

    def chatter() -> None:  # events keep flowing while the clients go away
        while not stop.is_set():
            for session in sessions:
                client.beta.sessions.events.send(session.id, events=[user_message("tick")])

    sender = threading.Thread(target=chatter)
    with httpx.Client(base_url=server.base_url, headers=headers, trust_env=False, timeout=30) as http:
        assert wait_for(http, {"open_streams": 0, "watched_sessions": 0}) == {"open_streams": 0, "watched_sessions": 0}
        sender.start()
        try:
            for round_ in range(3):
                clients = [
                    httpx.Client(base_url=server.base_url, headers=headers, trust_env=False, timeout=30)
                    for _ in sessions
                ]
                paths = [f"/v1/sessions/{s.id}/events/stream" for s in sessions]
                opened = [c.stream("GET", path) for c, path in zip(clients, paths, strict=True)]
                streams = [stream.__enter__() for stream in opened]  # kept open until the clients vanish
                lines = [stream.iter_lines() for stream in streams]  # (a dropped iterator would close its stream)
                for stream, reader in zip(streams, lines, strict=True):
                    assert stream.status_code == 200
                    next(reader)  # read something, then vanish without a goodbye
                assert stats(http)["open_streams"] == len(sessions), round_
                for made in clients:
                    made.close()
                idle = wait_for(http, {"open_streams": 0, "watched_sessions": 0})
                assert idle == {"open_streams": 0, "watched_sessions": 0}, round_
        finally:
            stop.set()
            sender.join(timeout=30)
    session = sessions[0]
    with client.beta.sessions.events.stream(session.id) as stream:
        client.beta.sessions.events.send(session.id, events=[user_message("still here")])  # subscribed already
        first = next(iter(stream))
    assert first.type == "user.message"
