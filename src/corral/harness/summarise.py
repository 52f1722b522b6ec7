"""The compaction step: replace the oldest part of the context by a summary, as an event (a view; the log
itself is never rewritten). The planning (where to cut, what to ask) is ``compaction``; this module runs the
plan: a summarising model request in its own span (``purpose: compaction``), or plain truncation when the
summarising request itself would not fit, then ``agent.thread_context_compacted``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from corral.errors import ModelError
from corral.harness import compaction, emits
from corral.harness.budget import request_cost
from corral.harness.context import Compaction
from corral.harness.failures import give_up, model_failed, named
from corral.harness.harness import Harness
from corral.harness.models.base import BlockFinished, ModelRequest, ResponseFinished, Usage
from corral.harness.models.content import Message, Text
from corral.harness.models.registry import ResolvedModel
from corral.harness.writer import Writer
from corral.session import Event, NewEvent

Planner = Callable[[Sequence[Event], Compaction | None, int], compaction.Plan | None]


async def compact(
    harness: Harness,
    writer: Writer,
    model_id: str,
    prelude: tuple[NewEvent, ...],
    resolved: ResolvedModel,
    planner: Planner = compaction.plan,
) -> None:
    """Compact as ``planner`` (the agent's compaction policy; corral's ``compaction.plan`` by default) says."""
    state = writer.state
    window = resolved.context_window
    plan = planner(writer.events, state.compaction, window)
    if plan is None or state.compactions_in_row >= harness.limits.compaction_limit:
        message = "the context does not fit the model's window, even after compaction"
        await give_up(writer, list(prelude), "compaction_limit_reached_error", message)
        return
    start = (await writer.emit([*prelude, emits.span_start(model_id, "compaction")]))[-1]
    summary, method, usage = plan.truncated_summary, "truncation", Usage()
    if plan.messages is not None:
        try:
            summary, usage = await _summarise(resolved, plan.messages, compaction.summary_budget(window))
            method = "summary"
        except ModelError as err:
            if err.retryable:
                await model_failed(writer, harness.limits, start.id, named(err, resolved, harness.models.secrets))
                return
    compacted = NewEvent(
        "agent.thread_context_compacted", {"summary": summary, "through_seq": plan.through_seq, "method": method}
    )
    cost = request_cost(harness.prices, model_id, usage)
    await writer.emit([compacted, emits.span_end(start.id, usage, stop="end_turn", list_cost=cost)])


async def _summarise(resolved: ResolvedModel, messages: list[Message], budget: int) -> tuple[str, Usage]:
    request = ModelRequest(resolved.name, messages, compaction.SUMMARY_SYSTEM, [], budget)
    texts: list[str] = []
    usage = Usage()
    async for event in resolved.client.stream(request):
        if isinstance(event, BlockFinished) and isinstance(event.block, Text):
            texts.append(event.block.text)
        elif isinstance(event, ResponseFinished):
            usage = event.usage
    return "\n".join(texts).strip(), usage
