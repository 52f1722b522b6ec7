"""One real ``corral serve`` (workers, local sandboxes, a scripted model, traces sent to a loopback collector) runs
one turn with a tool call; then its log, its ``/metrics`` and the spans the collector received are examined.

The scenario runs once for the module (``run``); each test checks one promise about what it left.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from anthropic.types.beta import BetaManagedAgentsAgentToolset20260401Params

from corral.api.app import create_app
from corral.config import Settings
from corral.testing import OtlpCollector, ReceivedSpan, ScriptedModelServer, reply, text, tool_use
from tests.live import LiveServer, live_server
from tests.observe.conftest import Lines
from tests.sdk_server import run_turn, sdk
from tests.vault.helpers import bearer

COMMAND = "echo $((40 + 2))"
MODEL_KEY = "sk-ant-model-" + secrets.token_hex(12)
METRICS_TOKEN = "metrics-" + secrets.token_hex(12)
VAULT_SECRET = "vault-secret-" + secrets.token_hex(12)


@dataclass
class Run:
    server: LiveServer
    session_id: str
    events: list[dict[str, Any]]
    request_id: str
    metrics: str
    refused_metrics: int
    log: str
    spans: list[ReceivedSpan]

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.splitlines() if line.startswith("{")]


def scenario(server: LiveServer) -> tuple[str, list[dict[str, Any]], str]:
    """An agent with the toolset, a vault on its session, one turn that runs ``bash``; also one request that
    presents the API key as ``Authorization: Bearer`` (its request id is returned)."""
    with sdk(server) as client:
        toolset: list[BetaManagedAgentsAgentToolset20260401Params] = [{"type": "agent_toolset_20260401"}]
        agent = client.beta.agents.create(name="observed", model="claude-test", tools=toolset)
        environment = client.beta.environments.create(name="observed")
        vault = client.beta.vaults.create(display_name="observed")
        client.beta.vaults.credentials.create(vault.id, auth=bearer("https://mcp.example.com/mcp", VAULT_SECRET))
        session = client.beta.sessions.create(agent=agent.id, environment_id=environment.id, vault_ids=[vault.id])
        events = run_turn(client, session.id, "Run it.")
    with httpx.Client(base_url=server.base_url, trust_env=False) as http:
        answer = http.get("/v1/agents", headers={"Authorization": f"Bearer {server.api_key}"})
        assert answer.status_code == 200
    return session.id, events, answer.headers["request-id"]


def scrape(server: LiveServer) -> tuple[str, int]:
    with httpx.Client(base_url=server.base_url, trust_env=False) as http:
        refused = http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code
        answer = http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
        as_admin = http.get("/metrics", headers={"x-api-key": server.api_key})  # an admin key, without the token
        assert as_admin.status_code == 200 and "corral_http_requests_total" in as_admin.text
        return answer.text, refused


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("observe")
    script = {"replies": [reply(text("Running it."), tool_use("bash", {"command": COMMAND})), reply(text("42."))]}
    with OtlpCollector() as collector, ScriptedModelServer(script) as model:
        env = {
            "ANTHROPIC_BASE_URL": model.url,
            "ANTHROPIC_API_KEY": MODEL_KEY,
            "CORRAL_METRICS_TOKEN": METRICS_TOKEN,
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        }
        with live_server(f"sqlite:///{tmp / 'corral.db'}", data_dir=tmp / "data", env=env) as server:
            session_id, events, request_id = scenario(server)
            metrics, refused = scrape(server)
            server.stop()  # a graceful stop flushes the spans still batched
            log = Path(server.log_path).read_text()
        spans = collector.wait_for(lambda spans: any(s.name == "invoke_agent" for s in spans))
        yield Run(server, session_id, events, request_id, metrics, refused, log, spans)


def test_the_access_log_is_a_json_line_per_request_with_its_id(run: Run) -> None:
    access = [line for line in run.lines() if line["logger"] == "corral.access"]
    (agents,) = [line for line in access if line.get("request_id") == run.request_id]
    assert re.fullmatch(r"GET /v1/agents 200 [0-9.]+ms", agents["message"]) and agents["level"] == "info"
    assert any(line["message"].startswith(f"POST /v1/sessions/{run.session_id}/events 200") for line in access)
    assert any(line["logger"].startswith("uvicorn") for line in run.lines())  # uvicorn's own lines, same format


def test_metrics_count_requests_turns_tools_sandboxes_and_model_tokens(run: Run) -> None:
    def value(series: str) -> float:
        found = re.search(rf"^{re.escape(series)} ([0-9.e+]+)$", run.metrics, flags=re.MULTILINE)
        assert found is not None, series
        return float(found.group(1))

    assert value('corral_http_requests_total{method="POST",route="/v1/sessions",status="200"}') == 1
    assert value('corral_http_requests_total{method="GET",route="/v1/agents",status="200"}') == 1
    assert value('corral_http_request_duration_seconds_count{method="POST",route="/v1/agents",status="200"}') == 1
    assert value('corral_turns_total{outcome="end_turn"}') == 1
    assert value('corral_tool_calls_total{tool="bash"}') == 1
    assert value("corral_sandbox_starts_total") == 1
    assert value('corral_model_request_duration_seconds_count{provider="anthropic"}') == 2
    assert value('corral_model_tokens_total{kind="input",provider="anthropic"}') > 0
    assert value('corral_model_tokens_total{kind="output",provider="anthropic"}') > 0
    assert value("corral_active_sessions") == 0
    assert value("corral_lease_takeovers_total") == 0 and value("corral_egress_refusals_total") == 0
    assert run.refused_metrics == 401


@pytest.mark.anyio
async def test_metrics_need_a_key_without_a_token() -> None:
    transport = httpx.ASGITransport(app=create_app(Settings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://corral") as http:
        assert (await http.get("/metrics")).status_code == 401


def test_a_turn_is_a_trace_of_model_and_tool_spans_with_genai_attributes(run: Run) -> None:
    (turn,) = [s for s in run.spans if s.name == "invoke_agent"]
    assert turn.parent_span_id == "" and turn.resource["service.name"] == "corral"
    assert turn.attributes["gen_ai.conversation.id"] == run.session_id
    assert turn.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert turn.attributes["corral.turn.outcome"] == "end_turn" and turn.attributes["corral.turn.resumed"] is False
    children = [s for s in run.spans if s.parent_span_id == turn.span_id]
    assert all(s.trace_id == turn.trace_id for s in children)
    assert sorted(s.name for s in children) == ["chat claude-test", "chat claude-test", "execute_tool bash"]
    for chat in (s for s in children if s.name.startswith("chat")):
        assert chat.attributes["gen_ai.system"] == "anthropic" and chat.attributes["gen_ai.operation.name"] == "chat"
        assert chat.attributes["gen_ai.request.model"] == "claude-test"
        tokens = chat.attributes["gen_ai.usage.input_tokens"], chat.attributes["gen_ai.usage.output_tokens"]
        assert all(isinstance(count, int) and count > 0 for count in tokens)
    (tool,) = [s for s in children if s.name == "execute_tool bash"]
    (call,) = [e for e in run.events if e["type"] == "agent.tool_use"]
    assert tool.attributes == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "bash",
        "gen_ai.tool.call.id": call["id"],
    }


def test_no_secret_reaches_a_log_line_a_span_or_the_metrics(run: Run) -> None:
    assert run.log and run.spans and run.metrics
    for secret in (run.server.api_key, MODEL_KEY, VAULT_SECRET, METRICS_TOKEN):
        assert secret not in run.log
        assert secret not in repr(run.spans)
        assert secret not in run.metrics


@pytest.mark.anyio
@pytest.mark.parametrize("on", [True, False])
async def test_the_access_log_can_be_turned_off(lines: Lines, on: bool) -> None:
    transport = httpx.ASGITransport(app=create_app(Settings(access_log=on)))
    async with httpx.AsyncClient(transport=transport, base_url="http://corral") as http:
        await http.get("/v1/agents")  # refused at the gate (no key): logged all the same
    assert len(lines.containing("GET /v1/agents 401")) == int(on)
