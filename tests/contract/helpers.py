"""Small builders shared by the contract tests, and the real signals they wait on (never a fixed sleep)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import anyio

from corral.db import Flow, Row, one
from corral.session import NewEvent, NewSession, SessionRecord, SessionStore

WORKSPACE = "wrkspc_contract"
PATIENCE = 30  # seconds: generous, so that a loaded machine never fails a test by slowness alone


def new_session(title: str = "t", *, workspace: str = WORKSPACE, initial: list[NewEvent] | None = None) -> NewSession:
    return NewSession(workspace, "agent_contract", 1, "env_contract", {"title": title}, initial or [])


async def make_session(
    store: SessionStore, title: str = "t", *, workspace: str = WORKSPACE, initial: list[NewEvent] | None = None
) -> SessionRecord:
    record, _ = await store.create_session(new_session(title, workspace=workspace, initial=initial))
    return record


async def runnable_session(store: SessionStore) -> SessionRecord:
    """A session with a waiting user message: runnable, so workers may claim it."""
    return await make_session(store, initial=[NewEvent("user.message", {"content": [{"type": "text", "text": "go"}]})])


def message(n: int, tag: str = "t") -> NewEvent:
    return NewEvent("agent.message", {"content": [{"type": "text", "text": f"{tag} {n}"}], "tag": tag, "n": n})


Clock = Literal["lease_expires", "wake_at"]


def _moment(session_id: str, column: Clock) -> Flow[float | None]:
    row: Row | None = yield one(f"SELECT {column} AS moment FROM sessions WHERE id = $1", session_id)
    return None if row is None or row["moment"] is None else float(row["moment"])


def _seconds_until(moment: float) -> Flow[float]:
    row: Row = yield one("SELECT {now} AS db_now")
    return moment - float(row["db_now"])


async def until_passed(store: SessionStore, session_id: str, column: Clock) -> None:
    """Wait until the database's clock is past the session's ``column`` (a lease's end, a retry's time): from
    then on the database itself treats the lease as expired, or the session as due."""
    moment = await store.db.read(_moment, session_id, column)
    if moment is not None:
        await until_clock_passes(store, moment)


async def until_clock_passes(store: SessionStore, moment: float) -> None:
    """Wait until the database's clock (epoch seconds) is past ``moment``."""
    with anyio.fail_after(PATIENCE):
        while True:
            left = await store.db.read(_seconds_until, moment)
            if left < 0:
                return
            await anyio.sleep(left + 0.01)  # the time the database says is left (then it looks again)


class Heard:
    """A listener that keeps the payloads it hears (those ``keep`` accepts) and lets a test wait for them."""

    def __init__(self, keep: Callable[[str | None], bool] = lambda payload: True) -> None:
        self.payloads: list[str | None] = []
        self._keep = keep
        self._more = anyio.Event()

    def __call__(self, payload: str | None) -> None:
        if self._keep(payload):
            self.payloads.append(payload)
            self._more.set()

    async def until(self, count: int) -> list[str | None]:
        """Wait until ``count`` payloads were heard; returns all of them."""
        with anyio.fail_after(PATIENCE):
            while len(self.payloads) < count:
                self._more = anyio.Event()
                await self._more.wait()
        return self.payloads
