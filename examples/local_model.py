"""A local model through an OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, LM Studio …).

The server is told where the endpoint is; an agent picks it with an ``openai:`` model id::

    OPENAI_BASE_URL=http://127.0.0.1:11434/v1 script/server      # Ollama's endpoint; OPENAI_API_KEY if it wants one
    CORRAL_API_KEY=sk-… LOCAL_MODEL=openai:qwen2.5-coder python examples/local_model.py

(Several endpoints at once: named providers in the ``CORRAL_CONFIG`` file, model ids ``<name>:<model>``.)
"""

import os

import anthropic

client = anthropic.Anthropic(
    base_url=os.environ.get("CORRAL_URL", "http://127.0.0.1:8080"), api_key=os.environ["CORRAL_API_KEY"]
)
agent = client.beta.agents.create(
    name="local",
    model=os.environ.get("LOCAL_MODEL", "openai:qwen2.5-coder"),
    tools=[{"type": "agent_toolset_20260401"}],
)
environment = client.beta.environments.create(name="local", config={"type": "cloud"})
session = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
tokens = 0

with client.beta.sessions.events.stream(session.id) as stream:
    client.beta.sessions.events.send(
        session.id, events=[{"type": "user.message", "content": [{"type": "text", "text": "Say hello."}]}]
    )
    for event in stream:
        if event.type == "agent.tool_result":
            print("".join(block.text for block in event.content if block.type == "text"))
        elif event.type == "agent.message":
            print("".join(block.text for block in event.content))
        elif event.type == "span.model_request_end":
            tokens += event.model_usage.output_tokens
        elif event.type == "session.status_idle":
            print(f"({tokens} output tokens from {agent.model.id})")
            break
