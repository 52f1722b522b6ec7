"""Shared helpers for harness tests: sessions on the real store, runtimes against scripted model servers.

Tests wait on signals, never on the clock: ``wait_for`` wakes on the session's live feed (``store.subscribe``),
``Points`` on the harness's hook points; ``eventually`` is for state that has no feed (files, other processes).
Every ``wait`` is a generous safety net that fails the test, never the synchronisation itself.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio

from corral._types import JSONObject
from corral.catalog.limits import CatalogLimits
from corral.catalog.params.tools import TOOLS
from corral.catalog.tools import resolve_tools
from corral.config import ProviderConfig, Settings
from corral.harness import Runtime
from corral.sandbox import SandboxProvider
from corral.sandbox.recipe import EnvironmentSource, no_environments
from corral.session import Closed, Event, EventType, NewEvent, NewSession, SessionStore, Subscriber

TERMINAL_STOPS = ("end_turn", "retries_exhausted", "refusal")

Predicate = Callable[[list[Event]], bool]
"""A condition on a session's log (all its events, in ``seq`` order)."""


def settings_for(url: str, **overrides: Any) -> Settings:
    """Settings whose providers all point at one scripted model server."""
    providers: dict[str, ProviderConfig] = {
        "anthropic": ProviderConfig("anthropic", "anthropic", base_url=url, api_key="test"),
        "openai": ProviderConfig("openai", "openai", base_url=url + "/v1", api_key="test"),
        **overrides.pop("providers", {}),
    }
    values: dict[str, Any] = {
        "lease_ttl_seconds": 3.0,
        "model_retry_base_seconds": 0.01,
        "sandbox_idle_seconds": 60.0,
        "providers": providers,
    }
    values.update(overrides)
    return Settings(**values)


def agent(
    model: str = "claude-test", *, tools: Sequence[JSONObject] = (), system: str | None = "Be brief."
) -> JSONObject:
    return {
        "type": "agent",
        "id": "agent_test",
        "version": 1,
        "model": {"id": model},
        "system": system,
        # resolved as the catalog resolves an agent's tools at the API edge (what a session snapshot holds)
        "tools": resolve_tools(TOOLS.validate_python(list(tools)), [], CatalogLimits()),
    }


def custom_tool(name: str) -> JSONObject:
    return {"type": "custom", "name": name, "description": f"the {name} tool", "input_schema": {"type": "object"}}


def user_message(text: str) -> NewEvent:
    return NewEvent("user.message", {"content": [{"type": "text", "text": text}]}, queued=True)


async def create_session(store: SessionStore, agent_doc: JSONObject, *first: NewEvent) -> str:
    record, _ = await store.create_session(
        NewSession("wrkspc_test", "agent_test", 1, "env_test", {"agent": agent_doc}, list(first))
    )
    return record.id


async def send(store: SessionStore, session_id: str, *events: NewEvent) -> list[Event]:
    return await store.send_client_events(session_id, "wrkspc_test", list(events))


async def wait_for(store: SessionStore, session_id: str, predicate: Predicate, wait: float = 30.0) -> list[Event]:
    """Wait until ``predicate(events)`` holds for the session's log; return that log.

    The log is read once, then again whenever the session's live feed delivers events (re-read rather than
    accumulated, so ``processed_at`` stamps set meanwhile show up too).
    """
    events: list[Event] = []
    try:
        with anyio.fail_after(wait):
            async with store.subscribe(session_id) as subscriber:
                events = await store.get_events(session_id)
                while not predicate(events):
                    await _next_burst(subscriber, session_id)
                    events = await store.get_events(session_id)
    except TimeoutError:
        raise AssertionError(f"the log of {session_id} did not get there in {wait}s: {types(events)}") from None
    return events


async def _next_burst(subscriber: Subscriber, session_id: str) -> None:
    """Wait for the feed's next events, and take what else is queued already (one re-read per burst)."""
    items = [await subscriber.receive.receive()]
    while True:
        try:
            items.append(subscriber.receive.receive_nowait())
        except anyio.WouldBlock:
            break
    for item in items:
        if isinstance(item, Closed):
            raise AssertionError(f"the live feed of {session_id} closed: {item.reason}")


async def eventually(predicate: Callable[[], bool | Awaitable[bool]], wait: float = 30.0) -> None:
    """Wait until ``predicate()`` holds, for state that has no feed (files, other processes, /proc, stamps)."""
    with anyio.fail_after(wait):
        while True:
            if await _holds(predicate):
                return
            await anyio.sleep(0.02)  # how often to look again, not what is waited for


async def _holds(predicate: Callable[[], bool | Awaitable[bool]]) -> bool:
    held = predicate()
    return held if isinstance(held, bool) else await held


class Points:
    """A harness ``Hook`` (see ``corral.harness.Hook``): records the points turns reach, so that a test waits for a
    point of the turn instead of for time, and can act *at* a point (the turn goes on once the action is done)."""

    def __init__(self) -> None:
        self.reached: list[tuple[str, str]] = []
        self._actions: dict[str, Callable[[str], Awaitable[object]]] = {}
        self._moved = anyio.Event()

    def once(self, point: str, action: Callable[[str], Awaitable[object]]) -> None:
        """Run ``action(session_id)`` the next time a turn reaches ``point``, before the turn goes on."""
        self._actions[point] = action

    async def __call__(self, point: str, session_id: str) -> None:
        action = self._actions.pop(point, None)
        if action is not None:
            await action(session_id)
        self.reached.append((point, session_id))
        moved, self._moved = self._moved, anyio.Event()
        moved.set()

    async def wait(self, point: str, session_id: str, count: int = 1, wait: float = 30.0) -> None:
        """Wait until the session's turns have reached ``point`` ``count`` times."""
        with anyio.fail_after(wait):
            while self.reached.count((point, session_id)) < count:
                await self._moved.wait()


def idle_count(events: list[Event], stops: Sequence[str] = TERMINAL_STOPS) -> int:
    return sum(1 for e in events if e.type == "session.status_idle" and e.data()["stop_reason"]["type"] in stops)


async def wait_idle(store: SessionStore, session_id: str, count: int = 1, wait: float = 30.0) -> list[Event]:
    """Wait until the session has gone idle (not ``requires_action``) ``count`` times."""
    return await wait_for(store, session_id, lambda events: idle_count(events) >= count, wait)


async def wait_blocked(store: SessionStore, session_id: str, count: int = 1, wait: float = 30.0) -> list[Event]:
    return await wait_for(store, session_id, lambda events: idle_count(events, ("requires_action",)) >= count, wait)


def has(kind: EventType, count: int = 1) -> Predicate:
    """The log holds ``count`` events of type ``kind``."""
    return lambda events: types(events).count(kind) >= count


def types(events: Sequence[Event]) -> list[EventType]:
    return [e.type for e in events]


def transcript(events: list[Event]) -> list[tuple[str, Any]]:
    """The conversation without ids, timestamps, spans and statuses: what must match across runs."""
    out: list[tuple[str, Any]] = []
    for event in events:
        data = event.data()
        if event.type in ("user.message", "agent.message"):
            out.append((event.type, data["content"]))
        elif event.type in ("agent.tool_use", "agent.custom_tool_use"):
            out.append((event.type, (data["name"], data["input"])))
        elif event.type in ("agent.tool_result", "user.custom_tool_result"):
            out.append((event.type, (data.get("content"), data.get("is_error", False))))
        elif event.type == "session.status_idle":
            out.append((event.type, data["stop_reason"]["type"]))
    return out


@asynccontextmanager
async def running(
    store: SessionStore,
    settings: Settings,
    *,
    sandbox: SandboxProvider | None = None,
    environments: EnvironmentSource = no_environments,
    hook: Points | None = None,
) -> AsyncGenerator[Runtime]:
    """A ``Runtime`` on ``store`` for the duration of the block (its pools are rung when a session becomes
    runnable; the poll interval only bounds how soon they take over an expired lease)."""
    runtime = Runtime(store, settings, sandbox=sandbox, environments=environments, hook=hook, poll_interval=0.2)
    async with runtime.running():
        yield runtime
