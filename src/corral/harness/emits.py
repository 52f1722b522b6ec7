"""Constructors for the events the harness writes (one place for their exact shapes, api.md §6.3/§7)."""

from __future__ import annotations

from decimal import Decimal

from corral._types import JSONObject
from corral.harness.models.base import Usage
from corral.sandbox import ToolResult
from corral.session import NewEvent
from corral.vocab.events import StopReason


def idle(stop_reason: StopReason, stop_details: JSONObject | None = None) -> NewEvent:
    return NewEvent("session.status_idle", {"stop_reason": stop_reason, "stop_details": stop_details})


def requires_action(event_ids: list[str]) -> NewEvent:
    return idle({"type": "requires_action", "event_ids": event_ids})


def span_start(model_id: str, purpose: str = "turn") -> NewEvent:
    return NewEvent("span.model_request_start", {"model": model_id, "purpose": purpose})


def span_end(
    start_id: str,
    usage: Usage | None = None,
    *,
    is_error: bool = False,
    stop: str | None = None,
    list_cost: Decimal | None = None,
    unpriced: str | None = None,
) -> NewEvent:
    """``list_cost``: the request's exact list cost in US dollars (``corral.session.spend`` sums them);
    ``unpriced``: the model that answered when a router picked one without a list price."""
    data: JSONObject = {
        "model_request_start_id": start_id,
        "model_usage": (usage or Usage()).wire(),
        "is_error": is_error,
    }
    if stop is not None:
        data["stop_reason"] = stop
    if list_cost is not None:
        data["list_cost_usd"] = str(list_cost)
    if unpriced is not None:
        data["unpriced_model"] = unpriced
    return NewEvent("span.model_request_end", data)


def session_error(error_type: str, message: str, retry_status: str) -> NewEvent:
    error = {"type": error_type, "message": message, "retry_status": {"type": retry_status}}
    return NewEvent("session.error", {"error": error})


def tool_result(tool_use_id: str, result: ToolResult) -> NewEvent:
    return NewEvent(
        "agent.tool_result", {"tool_use_id": tool_use_id, "content": result.content, "is_error": result.is_error}
    )


def exhausted(error_type: str, message: str) -> list[NewEvent]:
    """A turn that cannot go on: ``session.error`` (exhausted), then idle ``retries_exhausted``."""
    return [session_error(error_type, message, "exhausted"), idle({"type": "retries_exhausted"})]
