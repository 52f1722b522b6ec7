"""A model response as log events: the one place where a tool call gets its event type and permission.

Invariants:

* Events come in content order: ``agent.thinking`` / ``agent.message`` / tool-use events; each text block is
  one ``agent.message`` whose id is the one its live previews announced.
* Every tool call is classified by ``AgentConfig.classify`` here, once, before it is written: the log records
  the verdict (``evaluated_permission``), and no later step re-decides it.
* ``client_runs``: built-in tools the client's own worker runs (``self_hosted`` environments); their permitted
  calls carry ``executor: "client"`` and wait for a ``user.tool_result``.
"""

from __future__ import annotations

from collections.abc import Sequence

from corral._types import JSONObject
from corral.harness.agent import AgentConfig
from corral.harness.models.content import Block, Text, Thinking, ToolUse
from corral.session import NewEvent


def response_events(
    blocks: Sequence[tuple[Block, str | None]],
    agent: AgentConfig,
    client_runs: frozenset[str] = frozenset(),
    *,
    keep_empty: bool = False,
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
                out.append(tool_use(block, agent, client_runs))
            case _:
                continue  # tool results and media never come from a model's answer
    return out


def tool_use(block: ToolUse, agent: AgentConfig, client_runs: frozenset[str]) -> NewEvent:
    verdict = agent.classify(block.name)
    data: JSONObject = {"name": block.name, "input": block.input}
    if verdict.permission is not None:
        data["evaluated_permission"] = verdict.permission
    if verdict.evaluation is not None:
        data["evaluation"] = verdict.evaluation
    if verdict.permission in ("allow", "ask") and block.name in client_runs:
        data["executor"] = "client"
    return NewEvent(verdict.event_type, data)


def _thinking(block: Thinking) -> JSONObject:
    data: JSONObject = {"thinking": block.text, "origin": block.origin}
    if block.signature is not None:
        data["signature"] = block.signature
    if block.redacted is not None:
        data["redacted"] = block.redacted
    return data
