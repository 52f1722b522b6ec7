"""The session row: a projection of the log, kept in step with it inside every append transaction; and the
public shapes around it (``NewSession`` to create one, ``SessionFilter`` to list them).

Invariant: every column here except ``doc`` (title, metadata, agent snapshot, resources …) and the lease
columns can be recomputed by replaying the session's events through ``project``; the row only exists so
that reading a session costs one lookup instead of a replay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from corral._types import JSONObject
from corral.db import Row
from corral.ids import rfc3339
from corral.session import spend
from corral.session.events import NewEvent
from corral.session.outcomes import OUTCOME_TYPES, project_outcome, waits_for_work
from corral.vocab.tools import SERVER_TOOLS

#: client events that give the harness something to do
WAKING_TYPES = frozenset(
    {
        "user.message",
        "user.interrupt",
        "user.tool_confirmation",
        "user.custom_tool_result",
        "user.tool_result",
        "user.define_outcome",
    }
)

ACTIVE_STATUSES = frozenset({"running", "rescheduling"})

SESSION_COLUMNS = (
    "id, workspace_id, agent_id, agent_version, environment_id, status, doc, usage, pending_actions,"
    " active_seconds, running_since, created_at, updated_at, archived_at, last_seq, runnable,"
    " lease_owner, lease_token, lease_expires, outcomes"
)


def empty_usage() -> JSONObject:
    return {
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
    }


@dataclass(frozen=True)
class NewSession:
    """What a session is created from; ``initial_events`` are appended in the same transaction. ``session_id``:
    an id chosen beforehand (None: a fresh one), for what is written with the session under its id."""

    workspace_id: str
    agent_id: str
    agent_version: int
    environment_id: str
    doc: JSONObject
    initial_events: list[NewEvent] = field(default_factory=lambda: list[NewEvent]())
    session_id: str | None = None


@dataclass(frozen=True)
class SessionFilter:
    """Which sessions ``list_sessions`` returns (all of the conditions given)."""

    workspace_id: str
    agent_id: str | None = None
    agent_version: int | None = None
    statuses: tuple[str, ...] = ()
    include_archived: bool = False
    created_gt: str | None = None
    created_gte: str | None = None
    created_lt: str | None = None
    created_lte: str | None = None
    memory_store_id: str | None = None  # sessions whose resources attach this memory store
    none_match: bool = False  # a filter on something no session here can have (a deployment)


@dataclass(frozen=True)
class SessionRecord:
    id: str
    workspace_id: str
    agent_id: str
    agent_version: int
    environment_id: str
    status: str
    doc: JSONObject
    usage: JSONObject
    pending_actions: list[str]
    active_seconds: float
    running_since: float | None
    created_at: str
    updated_at: str
    archived_at: str | None
    last_seq: int
    runnable: bool
    lease_owner: str | None
    lease_token: int
    lease_expires: float | None
    #: ``outcome_evaluations`` (``corral.session.outcomes``)
    outcomes: list[JSONObject] = field(default_factory=lambda: list[JSONObject]())

    @classmethod
    def from_row(cls, row: Row) -> SessionRecord:
        return cls(
            id=row["id"],
            workspace_id=row["workspace_id"],
            agent_id=row["agent_id"],
            agent_version=int(row["agent_version"]),
            environment_id=row["environment_id"],
            status=row["status"],
            doc=json.loads(row["doc"]),
            usage=json.loads(row["usage"]),
            pending_actions=json.loads(row["pending_actions"]),
            active_seconds=float(row["active_seconds"]),
            running_since=row["running_since"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            archived_at=row["archived_at"],
            last_seq=int(row["last_seq"]),
            runnable=bool(row["runnable"]),
            lease_owner=row["lease_owner"],
            lease_token=int(row["lease_token"]),
            lease_expires=row["lease_expires"],
            outcomes=json.loads(row["outcomes"]),
        )

    def active_seconds_at(self, now_epoch: float) -> float:
        """``stats.active_seconds``: time spent running, including the current run."""
        if self.running_since is not None and self.status in ACTIVE_STATUSES:
            return self.active_seconds + max(0.0, now_epoch - self.running_since)
        return self.active_seconds


STATE_COLUMNS = (
    "workspace_id, status, usage, pending_actions, server_calls, active_seconds, running_since, runnable,"
    " archived_at, last_seq, lease_owner, lease_token, lease_expires, outcomes"
)


@dataclass
class SessionState:
    """The mutable projection that appends update; written back to the row in the same transaction.

    ``usage`` and ``pending_actions`` stay as JSON text until an event needs them (most events don't),
    which keeps the append path free of JSON work.
    """

    status: str
    usage_text: str
    pending_text: str
    active_seconds: float
    running_since: float | None
    runnable: bool
    woke: bool = field(default=False)
    #: server-tool calls waiting for a confirmation, ``{call id: tool name}`` (JSON text until needed)
    server_calls_text: str = "{}"
    #: ``outcome_evaluations`` (JSON text until an outcome event needs them)
    outcomes_text: str = "[]"
    _usage: JSONObject | None = field(default=None, repr=False)
    _pending: list[str] | None = field(default=None, repr=False)
    _server_calls: dict[str, str] | None = field(default=None, repr=False)
    _outcomes: list[JSONObject] | None = field(default=None, repr=False)

    @classmethod
    def from_row(cls, row: Row) -> SessionState:
        return cls(
            status=row["status"],
            usage_text=row["usage"],
            pending_text=row["pending_actions"],
            active_seconds=float(row["active_seconds"]),
            running_since=row["running_since"],
            runnable=bool(row["runnable"]),
            server_calls_text=row["server_calls"],
            outcomes_text=row["outcomes"],
        )

    @property
    def outcomes(self) -> list[JSONObject]:
        if self._outcomes is None:
            self._outcomes = outcomes = json.loads(self.outcomes_text)
            return outcomes
        return self._outcomes

    def outcomes_json(self) -> str:
        return self.outcomes_text if self._outcomes is None else json.dumps(self._outcomes, separators=(",", ":"))

    @property
    def server_calls(self) -> dict[str, str]:
        if self._server_calls is None:
            self._server_calls = calls = json.loads(self.server_calls_text)
            return calls
        return self._server_calls

    @property
    def usage(self) -> JSONObject:
        if self._usage is None:
            self._usage = usage = json.loads(self.usage_text)
            return usage
        return self._usage

    @property
    def pending_actions(self) -> list[str]:
        if self._pending is None:
            self._pending = pending = json.loads(self.pending_text)
            return pending
        return self._pending

    @pending_actions.setter
    def pending_actions(self, value: list[str]) -> None:
        self._pending = value

    def signature(self) -> tuple[Any, ...]:
        """Everything an append may write back; equal signatures mean the row needs no update."""
        return (
            self.status,
            self.active_seconds,
            self.running_since,
            self.runnable,
            self.woke,
            self.usage_json(),
            self.pending_json(),
            self.server_calls_json(),
            self.outcomes_json(),
        )

    def has_server_calls(self) -> bool:
        return bool(self._server_calls) if self._server_calls is not None else self.server_calls_text != "{}"

    def server_calls_json(self) -> str:
        if self._server_calls is None:
            return self.server_calls_text
        return json.dumps(self._server_calls, separators=(",", ":"))

    def usage_json(self) -> str:
        return self.usage_text if self._usage is None else json.dumps(self._usage, separators=(",", ":"))

    def pending_json(self) -> str:
        return self.pending_text if self._pending is None else json.dumps(self._pending, separators=(",", ":"))


def _add_usage(usage: JSONObject, model_usage: JSONObject) -> None:
    for key in ("input_tokens", "output_tokens", "cache_read_input_tokens"):
        usage[key] = int(usage.get(key, 0)) + int(model_usage.get(key) or 0)
    cache = usage.setdefault("cache_creation", {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0})
    cache["ephemeral_5m_input_tokens"] = int(cache.get("ephemeral_5m_input_tokens", 0)) + int(
        model_usage.get("cache_creation_input_tokens") or 0
    )


def _stop_running(state: SessionState, now_epoch: float) -> None:
    if state.running_since is not None:
        state.active_seconds += max(0.0, now_epoch - state.running_since)
    state.running_since = None


def project(state: SessionState, event_id: str, event_type: str, data: JSONObject, now_epoch: float) -> None:
    """Apply one appended event to the session's projection."""
    if event_type.startswith("session.status_"):
        _budget_pause(state, data)
    if event_type == "session.status_running":
        state.status = "running"
        if state.running_since is None:
            state.running_since = now_epoch
    elif event_type == "session.status_idle":
        state.status = "idle"
        _stop_running(state, now_epoch)
        stop: JSONObject = data.get("stop_reason") or {}
        waiting: list[str] = stop.get("event_ids") or []
        state.pending_actions = list(waiting) if stop.get("type") == "requires_action" else []
    elif event_type == "session.status_rescheduled":
        state.status = "rescheduling"
    elif event_type == "session.status_terminated":
        state.status = "terminated"
        _stop_running(state, now_epoch)
        state.runnable = False
        state.pending_actions = []
    elif event_type == "span.model_request_end":
        _add_usage(state.usage, data.get("model_usage") or {})
        spend.add_cost(state.usage, data)
    elif event_type == "agent.custom_tool_use" or (
        event_type in ("agent.tool_use", "agent.mcp_tool_use") and data.get("evaluated_permission") == "ask"
    ):
        state.pending_actions.append(event_id)
        _server_call(state, event_id, event_type, data)
    elif event_type == "agent.tool_use":
        _server_call(state, event_id, event_type, data)
    elif event_type == "user.custom_tool_result":
        _resolve(state, str(data.get("custom_tool_use_id")))
    elif event_type in ("user.tool_confirmation", "user.tool_result"):
        _resolve(state, str(data.get("tool_use_id")))
        _confirmed(state, event_type, data)
    if event_type in OUTCOME_TYPES and (
        event_type != "span.model_request_start" or waits_for_work(state.outcomes_json())
    ):
        project_outcome(state.outcomes, event_type, data, rfc3339(datetime.fromtimestamp(now_epoch, UTC)))
    if (event_type in WAKING_TYPES or _budget_changed(event_type, data)) and state.status != "terminated":
        state.woke = state.woke or not state.runnable
        state.runnable = True


def _budget_pause(state: SessionState, data: JSONObject) -> None:
    """An idle event with ``budget_reached`` pauses the session; any other status event ends a pause."""
    stop: JSONObject = data.get("stop_reason") or {}
    pausing = stop.get("type") == "budget_reached"
    if pausing or spend.may_be_paused(state.usage_json()):
        spend.set_paused(state.usage, pausing)


def _budget_changed(event_type: str, data: JSONObject) -> bool:
    """A changed (raised or removed) budget wakes the session: a pause may be over."""
    return event_type == "session.updated" and "budget" in data


def _server_call(state: SessionState, event_id: str, event_type: str, data: JSONObject) -> None:
    """A server-side tool call runs now (``allow``: counted) or once confirmed (``ask``: remembered)."""
    name = data.get("name")
    if event_type != "agent.tool_use" or name not in SERVER_TOOLS:
        return
    if data.get("evaluated_permission") == "allow":
        _count_server_tool(state.usage, str(name))
    elif data.get("evaluated_permission") == "ask":
        state.server_calls[event_id] = str(name)


def _confirmed(state: SessionState, event_type: str, data: JSONObject) -> None:
    if event_type != "user.tool_confirmation" or not state.has_server_calls():
        return  # no server call waits (the common case: no JSON work)
    name = state.server_calls.pop(str(data.get("tool_use_id")), None)
    if name is not None and data.get("result") == "allow":
        _count_server_tool(state.usage, name)


def _count_server_tool(usage: JSONObject, name: str) -> None:
    """``usage.server_tool_use.<tool>_requests`` += 1 (``web_search_requests``, ``web_fetch_requests``)."""
    counts: JSONObject = usage.setdefault("server_tool_use", {"web_fetch_requests": 0, "web_search_requests": 0})
    key = f"{name}_requests"
    counts[key] = int(counts.get(key, 0)) + 1


def _resolve(state: SessionState, event_id: str) -> None:
    if event_id in state.pending_actions:
        state.pending_actions.remove(event_id)
