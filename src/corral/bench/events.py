"""The corral event for each step of the synthetic workload (``corral.bench.workload``): what the harness writes for
the same moment. Light on purpose (``corral.session`` and the tool vocabulary only), so that a probe process that
only appends (``corral.bench.append_probe``) starts without importing the harness.
"""

from __future__ import annotations

from corral.bench.workload import Step
from corral.session import EventType, NewEvent
from corral.vocab.tools import BASH

_TYPES: dict[str, EventType] = {"user": "user.message", "assistant": "agent.message", "tool_use": "agent.tool_use"}


def new_event(step: Step) -> NewEvent:
    """The corral event for a workload step (what the harness will write for the same moment)."""
    content = [{"type": "text", "text": step.text}]
    if step.kind == "tool_use":
        return NewEvent("agent.tool_use", {"name": BASH, "input": {"command": step.text}}, id=step.id)
    if step.kind == "tool_result":
        data = {"tool_use_id": step.tool_use_id, "content": content, "is_error": step.is_error}
        return NewEvent("agent.tool_result", data)
    return NewEvent(_TYPES[step.kind], {"content": content})
