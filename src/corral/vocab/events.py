"""Every event type, and the shapes of the payloads the harness reads back from the log (api.md §6–§7).

``EventType`` is a ``Literal``: an event type written anywhere in corral is checked by the type checker (a
typo is an error, not a silent mismatch), and values read from the database cost nothing to convert.

Invariants:

* ``FILTERABLE_EVENT_TYPES`` is exactly the SDK's ``BetaManagedAgentsSessionEventType`` (a test compares them):
  the values ``GET /v1/sessions/{id}/events?types[]=`` accepts.
* ``EventType`` is that list plus the types only a live stream carries (``session.deleted``).
* The payload ``TypedDict``s describe what corral writes; readers of the log still treat a payload as JSON
  from storage (fields written by an older release may be missing), so every field is ``NotRequired`` unless
  every release has written it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, NotRequired, TypedDict, TypeGuard, get_args

ClientEventType = Literal[
    "user.message",
    "user.interrupt",
    "user.tool_confirmation",
    "user.custom_tool_result",
    "user.tool_result",
    "user.define_outcome",
    "system.message",
]
"""Events an API client sends (``POST /v1/sessions/{id}/events``)."""

AgentEventType = Literal[
    "agent.message",
    "agent.thinking",
    "agent.tool_use",
    "agent.tool_result",
    "agent.mcp_tool_use",
    "agent.mcp_tool_result",
    "agent.custom_tool_use",
    "agent.thread_context_compacted",
    "agent.thread_message_sent",
    "agent.thread_message_received",
]

SessionEventType = Literal[
    "session.status_running",
    "session.status_idle",
    "session.status_rescheduled",
    "session.status_terminated",
    "session.error",
    "session.updated",
    "session.usage",
    "session.thread_created",
    "session.thread_status_running",
    "session.thread_status_idle",
    "session.thread_status_rescheduled",
    "session.thread_status_terminated",
]

SpanEventType = Literal[
    "span.model_request_start",
    "span.model_request_end",
    "span.outcome_evaluation_start",
    "span.outcome_evaluation_ongoing",
    "span.outcome_evaluation_end",
]

WorkflowRunEventType = Literal[
    "workflow_run.created",
    "workflow_run.status_running",
    "workflow_run.status_idle",
    "workflow_run.status_ended",
    "workflow_run.error",
    "workflow_run.phase_started",
    "workflow_run.phase_ended",
]

StreamOnlyEventType = Literal["session.deleted"]
"""Sent on a live stream, never stored in a log."""

FilterableEventType = Literal[ClientEventType, AgentEventType, SessionEventType, SpanEventType, WorkflowRunEventType]
EventType = Literal[FilterableEventType, StreamOnlyEventType]

CLIENT_EVENT_TYPES: Final[frozenset[ClientEventType]] = frozenset(get_args(ClientEventType))
FILTERABLE_EVENT_TYPES: Final[frozenset[FilterableEventType]] = frozenset(
    kind
    for group in (ClientEventType, AgentEventType, SessionEventType, SpanEventType, WorkflowRunEventType)
    for kind in get_args(group)
)
EVENT_TYPES: Final[frozenset[EventType]] = FILTERABLE_EVENT_TYPES | frozenset(get_args(StreamOnlyEventType))

ToolUseEventType = Literal["agent.tool_use", "agent.custom_tool_use", "agent.mcp_tool_use"]
TOOL_USE_TYPES: Final[tuple[ToolUseEventType, ...]] = get_args(ToolUseEventType)
ToolResultEventType = Literal[
    "agent.tool_result", "agent.mcp_tool_result", "user.custom_tool_result", "user.tool_result"
]
TOOL_RESULT_TYPES: Final[tuple[ToolResultEventType, ...]] = get_args(ToolResultEventType)
#: the payload field of each result event that names the call it answers
RESULT_KEYS: Final[Mapping[str, str]] = {
    "agent.tool_result": "tool_use_id",
    "agent.mcp_tool_result": "mcp_tool_use_id",
    "user.custom_tool_result": "custom_tool_use_id",
    "user.tool_result": "tool_use_id",
}


def answered_call(event_type: str, data: Mapping[str, object]) -> str | None:
    """The id of the call that a result event answers; None for every other event."""
    key = RESULT_KEYS.get(event_type)
    return None if key is None else str(data.get(key))


def is_filterable(value: str) -> TypeGuard[FilterableEventType]:
    return value in FILTERABLE_EVENT_TYPES


# ------------------------------------------------------------------------------------------------ payloads

ModelErrorType = Literal["model_overloaded_error", "model_rate_limited_error", "model_request_failed_error"]
MODEL_ERROR_TYPES: Final[frozenset[ModelErrorType]] = frozenset(get_args(ModelErrorType))
"""The ``session.error`` types of a failed model request (the ones the model-retry policy counts)."""

StopReasonType = Literal["end_turn", "requires_action", "retries_exhausted", "refusal", "budget_reached"]
SessionStatus = Literal["idle", "running", "rescheduling", "terminated"]
RetryStatus = Literal["retrying", "exhausted", "terminal"]


class StopReason(TypedDict):
    type: StopReasonType
    event_ids: NotRequired[list[str]]


class StatusIdleData(TypedDict):
    stop_reason: StopReason
    stop_details: NotRequired[dict[str, object] | None]


class ModelUsage(TypedDict):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int


class SpanStartData(TypedDict):
    model: str
    purpose: NotRequired[str]


class SpanEndData(TypedDict):
    model_request_start_id: str
    model_usage: ModelUsage
    is_error: bool
    #: the model's own stop reason (corral's extra field): ``end_turn``, ``tool_use``, ``refusal`` …
    stop_reason: NotRequired[str]


class ToolUseData(TypedDict):
    name: str
    input: dict[str, object]
    evaluated_permission: NotRequired[Literal["allow", "ask", "deny"]]
    evaluation: NotRequired[dict[str, object]]
    #: ``client``: a built-in call of a ``self_hosted`` environment, run by the customer's worker
    executor: NotRequired[Literal["client"]]
    #: ``agent.mcp_tool_use``: the MCP server whose tool ``name`` is
    mcp_server_name: NotRequired[str]


class RetryStatusData(TypedDict):
    type: RetryStatus


class ErrorData(TypedDict):
    type: str
    message: str
    retry_status: RetryStatusData


class SessionErrorData(TypedDict):
    error: ErrorData


class ToolConfirmationData(TypedDict):
    tool_use_id: str
    result: Literal["allow", "deny"]
    deny_message: NotRequired[str | None]


class CompactedData(TypedDict):
    summary: str
    through_seq: int
    method: Literal["summary", "truncation"]


# ------------------------------------------------------------------------------------------------ outcomes (§16)

OutcomeResult = Literal[
    "pending", "running", "evaluating", "satisfied", "needs_revision", "max_iterations_reached", "failed", "interrupted"
]
"""``session.outcome_evaluations[].result``; the last five are also the verdicts of ``span.outcome_evaluation_end``."""
TERMINAL_OUTCOME_RESULTS: Final[frozenset[OutcomeResult]] = frozenset(
    ("satisfied", "max_iterations_reached", "failed", "interrupted")
)


class TextRubricData(TypedDict):
    type: Literal["text"]
    content: str


class DefineOutcomeData(TypedDict):
    """``user.define_outcome`` as stored: the API resolves a file rubric to its text before it is written."""

    outcome_id: str
    description: str
    rubric: TextRubricData
    max_iterations: int


class OutcomeSpanData(TypedDict):
    """``span.outcome_evaluation_start`` / ``_ongoing``."""

    outcome_id: str
    iteration: int


class OutcomeEndData(TypedDict):
    outcome_id: str
    iteration: int
    outcome_evaluation_start_id: str
    result: OutcomeResult
    explanation: str
    usage: ModelUsage
