"""A model response as log events: the one place where a tool call gets its event type and permission.

Invariants:

* Events come in content order: ``agent.thinking`` / ``agent.message`` / tool-use events; each text block is
  one ``agent.message`` whose id is the one its live previews announced.
* Every tool call is classified by ``AgentConfig.classify`` here (a call to an MCP tool of the turn's listing by
  ``harness.mcp``), once, before it is written: the log records the verdict (``evaluated_permission``), and no
  later step re-decides it. Under ``auto`` the verdict is the judge's (``Judging``), recorded as ``evaluation:
  {type: "auto", evaluated_permission: {…}}``; a response cut short by an interrupt is recorded without asking
  the judge (``ask``, ``indeterminate``: no judgement), since none of its calls will run.
* ``client_runs``: built-in tools the client's own worker runs (``self_hosted`` environments); their permitted
  calls carry ``executor: "client"`` and wait for a ``user.tool_result``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from corral._types import JSONObject
from corral.harness.agent import AgentConfig, Classified
from corral.harness.mcp import McpListing, mcp_tool_use
from corral.harness.models.content import Block, Text, Thinking, ToolUse
from corral.harness.policy import Judge, JudgeContext, JudgedCall, Verdict, judged
from corral.session import NewEvent


@dataclass(frozen=True)
class Judging:
    """Who judges ``auto`` calls, and what they may know of the session."""

    judge: Judge
    context: JudgeContext


async def response_events(
    blocks: Sequence[tuple[Block, str | None]],
    agent: AgentConfig,
    client_runs: frozenset[str] = frozenset(),
    *,
    judging: Judging | None = None,
    keep_empty: bool = False,
    mcp: McpListing | None = None,
) -> list[NewEvent]:
    """The response's blocks (with their preview ids) as events, without the closing span. An empty text block
    is dropped, unless ``keep_empty`` (a cut-short response whose preview started before any text arrived)."""
    out: list[NewEvent] = []
    for block, event_id in blocks:
        match block:
            case Text():
                if block.text or (keep_empty and event_id is not None):
                    content = [{"type": "text", "text": block.text}]
                    out.append(NewEvent("agent.message", {"content": content}, id=event_id))
            case Thinking():
                out.append(NewEvent("agent.thinking", _thinking(block), id=event_id))
            case ToolUse():
                judge = partial(_judge_call, judging)
                out.append(await mcp_tool_use(block, mcp, judge) or await tool_use(block, agent, client_runs, judging))
            case _:
                continue  # tool results and media never come from a model's answer
    return out


async def tool_use(
    block: ToolUse, agent: AgentConfig, client_runs: frozenset[str], judging: Judging | None
) -> NewEvent:
    verdict = agent.classify(block.name)
    if verdict.judged:
        verdict = Classified.auto(await _judge(block, agent, judging))
    data: JSONObject = {"name": block.name, "input": block.input}
    if verdict.permission is not None:
        data["evaluated_permission"] = verdict.permission
    if verdict.evaluation is not None:
        data["evaluation"] = verdict.evaluation
    if verdict.permission in ("allow", "ask") and block.name in client_runs:
        data["executor"] = "client"
    return NewEvent(verdict.event_type, data)


async def _judge(block: ToolUse, agent: AgentConfig, judging: Judging | None) -> Verdict:
    return await _judge_call(judging, agent.judged_call(block.name, block.input))


async def _judge_call(judging: Judging | None, call: JudgedCall) -> Verdict:
    if judging is None:
        return Verdict.ask("not_judged")
    return await judged(judging.judge, call, judging.context)


def _thinking(block: Thinking) -> JSONObject:
    data: JSONObject = {"thinking": block.text, "origin": block.origin}
    if block.signature is not None:
        data["signature"] = block.signature
    if block.redacted is not None:
        data["redacted"] = block.redacted
    return data
