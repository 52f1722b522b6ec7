"""The outcome grader (api.md §16): its own model request, in its own context, scores the agent's work.

Wire order: ``span.outcome_evaluation_start{outcome_id, iteration}`` → ``span.outcome_evaluation_ongoing`` (one at
once, then every ``ONGOING_EVERY`` seconds while the grader's request runs) → ``span.outcome_evaluation_end``
(``outcome_evaluation_start_id``, ``result``, ``explanation``, ``usage``: the grader's requests).

Invariants:

* The grader's request holds ``GRADER_SYSTEM``, the outcome, its rubric and a transcript of the work
  (``grader_input``); it is never appended to the worker's conversation, and only its verdict is logged.
* The grader's model is the agent's model (the session's ``agent.model``).
* The verdict is structured: the ``record_verdict`` tool's input (a JSON object in the text is accepted too). No
  verdict, or a model that keeps failing after the turn's retries, ends the outcome ``failed`` with the reason.
* ``needs_revision`` on the last allowed iteration becomes ``max_iterations_reached``.
* Recovery is continuation: a worker that finds a ``start`` without its ``end`` (its predecessor died mid-evaluation)
  asks the grader again under the same ``start``; the ``end`` of an iteration is written once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass

import anyio

from corral._types import JSONObject, json_object
from corral.errors import ModelError
from corral.harness.grader_input import GRADER_SYSTEM, grader_prompt
from corral.harness.harness import Harness
from corral.harness.models.base import (
    BlockFinished,
    ModelEvent,
    ModelRequest,
    ResponseFinished,
    ToolSpec,
    Usage,
)
from corral.harness.models.content import Message, Text, ToolUse
from corral.harness.outcomes import Outcome, end_event
from corral.harness.writer import Writer
from corral.session import NewEvent
from corral.vocab.events import OutcomeResult

ONGOING_EVERY = 10.0
GRADER_MAX_TOKENS = 4096
VERDICTS: tuple[OutcomeResult, ...] = ("satisfied", "needs_revision", "failed")
VERDICT_TOOL = ToolSpec(
    "record_verdict",
    "Record the verdict of this evaluation.",
    {
        "type": "object",
        "properties": {
            "result": {"type": "string", "enum": list(VERDICTS)},
            "explanation": {"type": "string", "description": "why; for needs_revision, each failing criterion"},
        },
        "required": ["result", "explanation"],
    },
)
log = logging.getLogger("corral.harness")


@dataclass(frozen=True)
class Verdict:
    result: OutcomeResult
    explanation: str
    usage: Usage


async def grade(harness: Harness, writer: Writer, model_id: str, prelude: tuple[NewEvent, ...]) -> None:
    """Score the active outcome's current iteration and write the verdict."""
    fold = writer.state.outcome
    outcome, iteration = fold.current, fold.iteration
    assert outcome is not None, "decide() chose Grade, so an outcome is active"
    span: JSONObject = {"outcome_id": outcome.outcome_id, "iteration": iteration}
    start_id = fold.open_start
    opening = [*prelude] if start_id is not None else [*prelude, NewEvent("span.outcome_evaluation_start", span)]
    written = await writer.emit([*opening, NewEvent("span.outcome_evaluation_ongoing", dict(span))])
    start_id = start_id or next(e.id for e in written if e.type == "span.outcome_evaluation_start")
    await harness.reached("outcome_evaluation_started", writer.session_id)
    prompt = grader_prompt(outcome, iteration, writer.events)
    verdict = await _with_heartbeat(writer, span, _verdict(harness, model_id, prompt))
    result = _final(verdict.result, outcome, iteration)
    await writer.emit([end_event(outcome, iteration, start_id, result, verdict.explanation, verdict.usage.wire())])


def _final(result: OutcomeResult, outcome: Outcome, iteration: int) -> OutcomeResult:
    if result == "needs_revision" and iteration + 1 >= outcome.max_iterations:
        return "max_iterations_reached"
    return result


async def _with_heartbeat(writer: Writer, span: JSONObject, work: Awaitable[Verdict]) -> Verdict:
    """``work``'s verdict; meanwhile a ``span.outcome_evaluation_ongoing`` every ``ONGOING_EVERY`` seconds."""

    async def beat() -> None:
        while True:
            await anyio.sleep(ONGOING_EVERY)
            await writer.emit([NewEvent("span.outcome_evaluation_ongoing", dict(span))])

    verdicts: list[Verdict] = []
    async with anyio.create_task_group() as group:
        group.start_soon(beat)
        verdicts.append(await work)
        group.cancel_scope.cancel()
    return verdicts[0]


async def _verdict(harness: Harness, model_id: str, prompt: str) -> Verdict:
    limits = harness.limits
    attempt = 0
    while True:
        try:
            resolved = harness.models.resolve(model_id)
            request = ModelRequest(
                resolved.name, [Message("user", [Text(prompt)])], GRADER_SYSTEM, [VERDICT_TOOL], GRADER_MAX_TOKENS
            )
            return await _ask(resolved.client.stream(request))
        except ModelError as err:
            if not err.retryable or not limits.retries_left(attempt):
                log.warning("outcome grader: model request failed: %s", err.message)
                return Verdict("failed", f"the grader's model request failed: {err.message}", Usage())
            await anyio.sleep(limits.backoff(attempt, err.retry_after))
            attempt += 1


async def _ask(events: AsyncIterator[ModelEvent]) -> Verdict:
    found: JSONObject | None = None
    texts: list[str] = []
    usage = Usage()
    async for event in events:
        if isinstance(event, BlockFinished):
            if isinstance(event.block, ToolUse) and event.block.name == VERDICT_TOOL.name and found is None:
                found = event.block.input
            elif isinstance(event.block, Text):
                texts.append(event.block.text)
        elif isinstance(event, ResponseFinished):
            usage = event.usage
    return _parsed(found if found is not None else _json_in("\n".join(texts)), usage)


def _json_in(text: str) -> JSONObject | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        return json_object(json.loads(text[start : end + 1]))
    except ValueError:
        return None


def _parsed(raw: JSONObject | None, usage: Usage) -> Verdict:
    result = None if raw is None else raw.get("result")
    if raw is None or result not in VERDICTS:
        return Verdict("failed", "the grader returned no verdict (satisfied, needs_revision or failed)", usage)
    return Verdict(result, str(raw.get("explanation") or ""), usage)
