"""Tool confirmation: with ``always_ask``, every tool call waits for a person's ``allow`` or ``deny``.

Here the person is ``input()``; ``--yes`` approves every call (how the tests run it)::

    CORRAL_URL=http://127.0.0.1:8080 CORRAL_API_KEY=sk-… python examples/tool_confirmation.py [--yes]
"""

import os
import sys

import anthropic

client = anthropic.Anthropic(
    base_url=os.environ.get("CORRAL_URL", "http://127.0.0.1:8080"), api_key=os.environ["CORRAL_API_KEY"]
)
agent = client.beta.agents.create(
    name="careful",
    model=os.environ.get("CORRAL_MODEL", "claude-sonnet-4-6"),
    tools=[{"type": "agent_toolset_20260401", "default_config": {"permission_policy": {"type": "always_ask"}}}],
)
environment = client.beta.environments.create(name="careful", config={"type": "cloud"})
session = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
calls = {}  # tool use id → its input


def decide(call: dict) -> str:
    if "--yes" in sys.argv:
        return "allow"
    return "allow" if input(f"run {call}? [y/N] ").strip().lower() == "y" else "deny"


with client.beta.sessions.events.stream(session.id) as stream:
    client.beta.sessions.events.send(
        session.id,
        events=[{"type": "user.message", "content": [{"type": "text", "text": "Clean up the build directory."}]}],
    )
    for event in stream:
        if event.type == "agent.tool_use":
            calls[event.id] = event.input
        elif event.type == "agent.tool_result":
            print("".join(block.text for block in event.content if block.type == "text"))
        elif event.type == "agent.message":
            print("".join(block.text for block in event.content))
        elif event.type == "session.status_idle" and event.stop_reason.type == "requires_action":
            for call_id in event.stop_reason.event_ids:
                verdict = decide(calls[call_id])
                print(f"{verdict}: {calls[call_id]}")
                client.beta.sessions.events.send(
                    session.id, events=[{"type": "user.tool_confirmation", "tool_use_id": call_id, "result": verdict}]
                )
        elif event.type == "session.status_idle":
            break
