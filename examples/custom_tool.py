"""A custom tool: the agent calls ``get_weather``, this program runs it and sends the result back.

The session goes idle with ``requires_action`` naming the calls it waits for; each gets a ``user.custom_tool_result``
and the agent goes on::

    CORRAL_URL=http://127.0.0.1:8080 CORRAL_API_KEY=sk-… python examples/custom_tool.py
"""

import os

import anthropic

WEATHER_TOOL = {
    "type": "custom",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def get_weather(city: str) -> str:
    return {"Paris": "sunny, 21 C"}.get(city, "unknown")


client = anthropic.Anthropic(
    base_url=os.environ.get("CORRAL_URL", "http://127.0.0.1:8080"), api_key=os.environ["CORRAL_API_KEY"]
)
agent = client.beta.agents.create(
    name="weather", model=os.environ.get("CORRAL_MODEL", "claude-sonnet-4-6"), tools=[WEATHER_TOOL]
)
environment = client.beta.environments.create(name="weather", config={"type": "cloud"})
session = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
calls = {}  # custom tool use id → its input

with client.beta.sessions.events.stream(session.id) as stream:
    client.beta.sessions.events.send(
        session.id,
        events=[{"type": "user.message", "content": [{"type": "text", "text": "What is the weather in Paris?"}]}],
    )
    for event in stream:
        if event.type == "agent.custom_tool_use":
            print(f"{event.name}({event.input})")
            calls[event.id] = event.input
        elif event.type == "agent.message":
            print("".join(block.text for block in event.content))
        elif event.type == "session.status_idle" and event.stop_reason.type == "requires_action":
            results = [
                {
                    "type": "user.custom_tool_result",
                    "custom_tool_use_id": call_id,
                    "content": [{"type": "text", "text": get_weather(calls[call_id]["city"])}],
                }
                for call_id in event.stop_reason.event_ids
            ]
            client.beta.sessions.events.send(session.id, events=results)
        elif event.type == "session.status_idle":
            break
