"""What the outcome grader is given: the outcome, its rubric, and a plain-text transcript of the work since the
outcome was defined (api.md §16). A pure function of the log.

Invariants:

* The grader reads a rendering of the worker's events (messages, tool calls and their results, earlier verdicts),
  never the worker's context itself; nothing here is ever appended to the worker's conversation.
* Each piece is cut to ``PIECE_MAX`` characters and the transcript to its last ``TRANSCRIPT_MAX`` characters, so a
  long outcome still fits one grader request.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from corral.harness.models.content import Text, blocks_from_wire, text_of
from corral.harness.outcomes import Outcome
from corral.session import Event
from corral.vocab.events import RESULT_KEYS, TOOL_USE_TYPES

PIECE_MAX = 4_000
TRANSCRIPT_MAX = 200_000
#: how a grader request begins (scripted test models tell grader requests apart by it)
GRADER_SYSTEM = (
    "You are the grader of an outcome: an independent reviewer who scores an AI agent's work against a rubric. "
    "You see the outcome, the rubric and a transcript of the agent's work (its messages, tool calls and their "
    "results). Judge only what the transcript shows was done. Answer by calling the record_verdict tool once: "
    "result 'satisfied' when every criterion of the rubric is met; 'needs_revision' when some are not (the "
    "explanation lists each failing criterion and what is missing, for the agent to fix); 'failed' when the rubric "
    "does not apply to the deliverables at all. Do not do the work yourself."
)


def grader_prompt(outcome: Outcome, iteration: int, events: Sequence[Event]) -> str:
    return (
        f"Evaluation iteration: {iteration} (0-based; at most {outcome.max_iterations} evaluations)\n\n"
        f"<outcome>\n{outcome.description}\n</outcome>\n\n<rubric>\n{outcome.rubric}\n</rubric>\n\n"
        f"<transcript>\n{transcript(outcome, events)}\n</transcript>"
    )


def transcript(outcome: Outcome, events: Sequence[Event]) -> str:
    lines: list[str] = []
    started = False
    for event in events:
        if event.type == "user.define_outcome":
            started = event.data().get("outcome_id") == outcome.outcome_id
            continue
        if started and (line := _line(event)) is not None:
            lines.append(line)
    text = "\n".join(lines) or "(the agent did nothing visible)"
    if len(text) > TRANSCRIPT_MAX:
        text = "[… the beginning of the transcript is cut …]\n" + text[-TRANSCRIPT_MAX:]
    return text


def _line(event: Event) -> str | None:
    data = event.data()
    kind = event.type
    if kind in ("user.message", "agent.message"):
        who = "user" if kind == "user.message" else "agent"
        return f"[{who}] {_cut(text_of(list(blocks_from_wire(data.get('content')))))}"
    if kind in TOOL_USE_TYPES:
        return f"[tool call: {data.get('name')}] {_cut(json.dumps(data.get('input'), ensure_ascii=False))}"
    if kind in RESULT_KEYS:
        blocks = blocks_from_wire(data.get("content"))
        body = text_of([block for block in blocks if isinstance(block, Text)])
        return f"[tool result{' (error)' if data.get('is_error') else ''}] {_cut(body)}"
    if kind == "span.outcome_evaluation_end":
        return (
            f"[grader, evaluation {data.get('iteration')}: {data.get('result')}] {_cut(str(data.get('explanation')))}"
        )
    return None


def _cut(text: str) -> str:
    return text if len(text) <= PIECE_MAX else text[:PIECE_MAX] + " […]"
