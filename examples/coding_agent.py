"""A coding agent: the built-in toolset (bash, read, write, edit, glob, grep …) in a sandbox, one task, its steps
printed as they stream.

Run it against a corral server (see the README's Quick start; with the scripted model server it follows a script,
with Claude it does the work)::

    CORRAL_URL=http://127.0.0.1:8080 CORRAL_API_KEY=sk-… python examples/coding_agent.py
"""

import os

import anthropic

client = anthropic.Anthropic(
    base_url=os.environ.get("CORRAL_URL", "http://127.0.0.1:8080"), api_key=os.environ["CORRAL_API_KEY"]
)
agent = client.beta.agents.create(
    name="coder",
    model=os.environ.get("CORRAL_MODEL", "claude-sonnet-4-6"),
    system="You write small, correct Python programs and run them to check.",
    tools=[{"type": "agent_toolset_20260401"}],
)
environment = client.beta.environments.create(
    name="coding", config={"type": "cloud", "networking": {"type": "unrestricted"}}
)
session = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
task = "Write primes.py, which prints the primes below 30, then run it."

with client.beta.sessions.events.stream(session.id) as stream:  # open the stream first: nothing is missed
    client.beta.sessions.events.send(
        session.id, events=[{"type": "user.message", "content": [{"type": "text", "text": task}]}]
    )
    for event in stream:
        if event.type == "agent.tool_use":
            print(f"$ {event.input.get('command', event.input)}")
        elif event.type == "agent.tool_result":
            print("".join(block.text for block in event.content if block.type == "text"))
        elif event.type == "agent.message":
            print("".join(block.text for block in event.content))
        elif event.type == "session.status_idle":
            break
