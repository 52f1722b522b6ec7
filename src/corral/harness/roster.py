"""A coordinator's roster as the harness reads it from the session's agent snapshot (api.md §17), and the
``delegate`` tool it is shown.

The catalog expanded every roster entry to a full agent definition when the session was created, so this reads
JSON only. A thread's own definition has no roster, so a thread is never shown ``delegate`` (depth 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from corral._types import JSONObject, json_list, json_object
from corral.harness.models.base import ToolSpec
from corral.vocab.tools import DELEGATE


def roster(snapshot: Mapping[str, Any]) -> dict[str, JSONObject]:
    """The agents a session's agent may delegate to, by name (a name two share is told apart by its id)."""
    multiagent = json_object(snapshot.get("multiagent")) or {}
    if multiagent.get("type") == "coordinator":
        entries = json_list(multiagent.get("agents")) or []
    else:
        subagents = json_object(multiagent.get("subagents")) or {}
        entries = json_list(subagents.get("predefined_agents")) or [] if subagents.get("type") == "enabled" else []
    found: dict[str, JSONObject] = {}
    for entry in entries:
        agent = json_object(entry)
        if agent is not None and agent.get("type") == "agent":
            name = str(agent.get("name") or agent.get("id"))
            found[f"{name} ({agent.get('id')})" if name in found else name] = agent
    return found


def delegation_spec(snapshot: Mapping[str, Any]) -> ToolSpec | None:
    """The ``delegate`` tool shown to an agent with a roster (None: it has none)."""
    agents = roster(snapshot)
    if not agents:
        return None
    listing = "\n".join(
        f"- {name}: {agent.get('description') or agent.get('system') or ''}" for name, agent in agents.items()
    )
    description = (
        "Hand a task to another agent, which works on it in a thread of its own (sharing this session's files) and"
        f" answers with its final message. Agents:\n{listing}"
    )
    schema: JSONObject = {
        "type": "object",
        "properties": {"agent": {"type": "string", "enum": list(agents)}, "message": {"type": "string"}},
        "required": ["agent", "message"],
    }
    return ToolSpec(DELEGATE, description, schema)
