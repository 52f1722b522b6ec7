"""Shared helpers for harness tests: sessions on the real store, runtimes against scripted model servers."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio

from corral._types import JSONObject
from corral.catalog.limits import CatalogLimits
from corral.catalog.params.tools import TOOLS
from corral.catalog.tools import resolve_tools
from corral.config import ProviderConfig, Settings
from corral.harness import Runtime
from corral.session import Event, NewEvent, NewSession, SessionStore
from corral.testing import ScriptedModelServer

TERMINAL_STOPS = ("end_turn", "retries_exhausted", "refusal")


def settings_for(url: str, **overrides: Any) -> Settings:
    """Settings whose providers all point at one scripted model server."""
    providers = {
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


async def wait_for(store: SessionStore, session_id: str, predicate: Any, wait: float = 30.0) -> list[Event]:
    """Poll the log until ``predicate(events)`` holds; return the events."""
    with anyio.fail_after(wait):
        while True:
            events = await store.get_events(session_id)
            if predicate(events):
                return events
            await anyio.sleep(0.02)


async def eventually(predicate: Any, wait: float = 30.0) -> None:
    """Wait until ``predicate()`` holds (for state outside the log: files, other threads)."""
    with anyio.fail_after(wait):
        while True:
            if predicate():
                return
            await anyio.sleep(0.02)


async def wait_requests(server: ScriptedModelServer, count: int, wait: float = 30.0) -> None:
    """Wait until the scripted model server has received ``count`` requests."""
    with anyio.fail_after(wait):
        while True:  # the server runs in another thread: poll it
            if len(server.requests) >= count:
                return
            await anyio.sleep(0.01)


def idle_count(events: list[Event], stops: Sequence[str] = TERMINAL_STOPS) -> int:
    return sum(1 for e in events if e.type == "session.status_idle" and e.data()["stop_reason"]["type"] in stops)


async def wait_idle(store: SessionStore, session_id: str, count: int = 1, wait: float = 30.0) -> list[Event]:
    """Wait until the session has gone idle (not ``requires_action``) ``count`` times."""
    return await wait_for(store, session_id, lambda events: idle_count(events) >= count, wait)


async def wait_blocked(store: SessionStore, session_id: str, count: int = 1, wait: float = 30.0) -> list[Event]:
    return await wait_for(store, session_id, lambda events: idle_count(events, ("requires_action",)) >= count, wait)


def types(events: list[Event]) -> list[str]:
    return [e.type for e in events]


RECOVERY_TYPES = frozenset({"session.status_rescheduled"})


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
async def running(store: SessionStore, settings: Settings, **kwargs: Any) -> AsyncGenerator[Runtime]:
    runtime = Runtime(store, settings, poll_interval=0.2, **kwargs)
    async with runtime.running():
        yield runtime
