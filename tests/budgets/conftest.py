"""One live ``corral serve`` (API and a harness worker, SQLite) for the package, its model a scripted model server
whose every reply reports the same usage, so each model request has a known list cost; and a ``CORRAL_PRICES``
file that prices a model the shipped table does not know."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest
from anthropic.types.beta import BetaManagedAgentsCustomToolParams

from corral.testing import ScriptedModelServer, reply, text, tool_use
from corral.testing.script import ReplyJSON, ScriptJSON, Usage
from tests.live import LiveServer
from tests.sdk_server import sdk

#: every request: 1,000 input and 1,000 output tokens; on claude-sonnet-4-6 ($3 / $15 per million) 1.8 cents
USAGE: Usage = {"input_tokens": 1000, "output_tokens": 1000}
CENTS_PER_REQUEST = "1.8"
PRICED_HERE = "claude-test-tiny"  # priced only by the package's CORRAL_PRICES file
LOOKUP: BetaManagedAgentsCustomToolParams = {
    "type": "custom",
    "name": "lookup",
    "description": "Look a thing up.",
    "input_schema": {"type": "object"},
}


def script(slow_at: int | None = None) -> ScriptJSON:
    """Three requests that each call ``lookup``, then a final answer; ``slow_at``: that request's answer waits."""
    replies: list[ReplyJSON] = [reply(tool_use("lookup", {"n": n}), usage=USAGE) for n in range(3)]
    replies.append(reply(text("All looked up."), usage=USAGE))
    if slow_at is not None:
        replies[slow_at]["latency"] = {"ttft": {"dist": "fixed", "seconds": 30.0}}
    return {"replies": replies}


@pytest.fixture(scope="package")
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(dict(script())) as running:
        yield running


@pytest.fixture(scope="package")
def server(model: ScriptedModelServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp: Path = tmp_path_factory.mktemp("budgets")
    prices = tmp / "prices.toml"
    prices.write_text(f'["{PRICED_HERE}"]\ninput = "0.5"\noutput = "1.5"\n')
    env = {"ANTHROPIC_BASE_URL": model.url, "CORRAL_LEASE_TTL": "3", "CORRAL_PRICES": str(prices)}
    running = LiveServer(f"sqlite:///{tmp / 'corral.db'}", tmp / "data", env, start_timeout=180.0)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="package")
def client(server: LiveServer) -> Iterator[anthropic.Anthropic]:
    with sdk(server) as made:
        yield made
