"""Nothing acknowledged is lost: ``kill -9`` the server while clients send events, restart it on the same
database, and every event whose ``events.send`` returned is there, exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import anthropic
import anyio
import pytest

from tests.conformance.conftest import sdk
from tests.conformance.helpers import new_session, user_message
from tests.conftest import database_url
from tests.live import LiveServer, live_server

SENDERS = 4
ENOUGH = 60  # acknowledged events before the crash


@pytest.fixture
def crash_server(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp(f"crash-{engine}")
    db_url = anyio.run(database_url, engine, tmp)
    with live_server(db_url, data_dir=tmp / "data", env={"CORRAL_WORKERS": "0"}) as running:
        yield running


def _send_until_gone(
    server: LiveServer, session_id: str, acked: list[str], lock: threading.Lock, enough: threading.Event
) -> None:
    with sdk(server) as client:
        index = 0
        while True:
            try:
                sent = client.beta.sessions.events.send(session_id, events=[user_message(f"m{index}")])
            except (anthropic.APIConnectionError, anthropic.APIStatusError):
                return  # the server died under us: this one was never acknowledged
            assert sent.data is not None
            with lock:
                acked.extend(event.id for event in sent.data)
                if len(acked) >= ENOUGH:
                    enough.set()
            index += 1


def test_acknowledged_events_survive_kill_9(crash_server: LiveServer) -> None:
    with sdk(crash_server) as client:
        session = new_session(client)
    acked: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()
    args = (crash_server, session.id, acked, lock, enough)
    threads = [threading.Thread(target=_send_until_gone, args=args) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    enough.wait(120)  # a good number are acknowledged: crash while the senders go on
    crash_server.kill()
    for thread in threads:
        thread.join(timeout=60)
    crash_server.start()
    with sdk(crash_server) as client:
        stored = list(client.beta.sessions.events.list(session.id))
        assert client.beta.sessions.retrieve(session.id).status == "idle"
    stored_ids = [event.id for event in stored]
    assert len(acked) >= ENOUGH
    assert set(acked) <= set(stored_ids)
    assert len(stored_ids) == len(set(stored_ids))
    assert [event.type for event in stored] == ["user.message"] * len(stored)
