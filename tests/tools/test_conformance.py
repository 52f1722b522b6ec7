"""The conformance runner's own logic (tools/conformance): what it reads from the SDK's tests, how it rewrites a
request, and how it judges a test and a method. The runner itself runs in script/test against live servers."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import PurePosixPath
from typing import Any

import httpx2
from tools.conformance.classify import MethodResult, Routes, Status, by_method, verdict_of
from tools.conformance.placeholders import Placeholder, learn_prefixes, scan_file
from tools.conformance.report import baseline_of, compare, parity
from tools.conformance.surface import Method, method_of, resource_of, sdk_methods
from tools.conformance.transport import Rewriter

TEST_SOURCE = """
class TestThings:
    def test_method_retrieve(self, client):
        client.beta.sessions.retrieve(session_id="sesn_011CZkZAtmR3yMPDzynEDxu7", workspace_id="wrkspc_011CZkZaBF1")

    def test_method_create(self, client):
        client.beta.sessions.create(
            agent="agent_011CZkYpogX7uDKUyvBTophP",
            environment_id="x",
            vault_ids=["string"],
            resources=[{"memory_store_id": "memory_store_id", "type": "memory_store"}],
            name="My First Agent",
        )

    def test_path_params_retrieve(self, client):
        client.beta.sessions.retrieve(session_id="")

    def test_method_learn(self, client):
        client.beta.agents.retrieve(agent_id="agent_011CZkYqphY8vELVzwCUpqiQ")
"""

SESSION = Placeholder("sesn_011CZkZAtmR3yMPDzynEDxu7", "session")
AGENT = Placeholder("agent_011CZkYpogX7uDKUyvBTophP", "agent")
WORKSPACE = Placeholder("wrkspc_011CZkZaBF1", "workspace")
ENVIRONMENT = Placeholder("x", "environment", "environment_id")
VAULT = Placeholder("string", "vault", "vault_ids")
MEMORY_STORE = Placeholder("memory_store_id", "memory_store")


def test_placeholders_are_read_from_the_tests_source() -> None:
    prefixes = learn_prefixes([TEST_SOURCE])
    assert prefixes == {"sesn_": "session", "wrkspc_": "workspace", "agent_": "agent"}
    scanned = scan_file(TEST_SOURCE, prefixes)
    assert scanned["TestThings::test_method_retrieve"].placeholders == {SESSION, WORKSPACE}
    create = scanned["TestThings::test_method_create"]
    assert create.placeholders == {AGENT, ENVIRONMENT, VAULT, MEMORY_STORE}
    assert create.names == {"My First Agent"}
    assert scanned["TestThings::test_path_params_retrieve"].placeholders == frozenset()  # "" is the SDK's check


def _rewritten(request: httpx2.Request, mapping: dict[Placeholder, str], names: frozenset[str]) -> httpx2.Request:
    return Rewriter(mapping, names).request(request)


def test_the_transport_swaps_inputs_and_nothing_else() -> None:
    mapping = {SESSION: "sesn_REAL", WORKSPACE: "wrkspc_REAL", ENVIRONMENT: "env_REAL", VAULT: "vlt_REAL"}
    body = {
        "name": "My First Agent",
        "environment_id": "x",
        "vault_ids": ["string", "other"],
        "title": "x",
        "agent": {"tools": [{"name": "My First Agent"}], "id": "sesn_011CZkZAtmR3yMPDzynEDxu7"},
    }
    request = httpx2.Request(
        "POST",
        "http://corral/v1/sessions/sesn_011CZkZAtmR3yMPDzynEDxu7/events",
        params=[("vault_ids[]", "string"), ("title", "string"), ("limit", "0")],
        headers={"anthropic-workspace-id": "wrkspc_011CZkZaBF1"},
        json=body,
    )
    sent = _rewritten(request, mapping, frozenset({"My First Agent"}))
    assert sent.url.path == "/v1/sessions/sesn_REAL/events"
    assert sent.url.params.multi_items() == [("vault_ids[]", "vlt_REAL"), ("title", "string"), ("limit", "0")]
    assert sent.headers["anthropic-workspace-id"] == "wrkspc_REAL"
    sent_body: dict[str, Any] = json.loads(sent.content)
    assert sent_body["name"].startswith("My First Agent-") and sent_body["name"] != "My First Agent"
    assert sent_body["environment_id"] == "env_REAL"
    assert sent_body["vault_ids"] == ["vlt_REAL", "other"]
    assert sent_body["title"] == "x"  # a keyed placeholder only counts under its key
    assert sent_body["agent"] == {"tools": [{"name": "My First Agent"}], "id": "sesn_REAL"}  # nested names stay
    assert int(sent.headers["content-length"]) == len(sent.content)


def test_a_body_that_is_not_json_passes_unchanged() -> None:
    request = httpx2.Request("POST", "http://corral/v1/files", content=b"sesn_011CZkZAtmR3yMPDzynEDxu7")
    assert _rewritten(request, {SESSION: "sesn_REAL"}, frozenset()).content == b"sesn_011CZkZAtmR3yMPDzynEDxu7"


def test_tests_map_to_the_sdks_methods() -> None:
    methods = sdk_methods()
    names = {method.qualname for method in methods}
    assert {"agents.create", "sessions.events.stream", "vaults.credentials.mcp_oauth_validate"} <= names
    assert not any(name.startswith(("messages.", "models.", "organization.", "webhooks.")) for name in names)
    assert resource_of(PurePosixPath("tests/api_resources/beta/sessions/test_events.py")) == ("sessions", "events")
    assert resource_of(PurePosixPath("tests/test_client.py")) is None
    files = ("files",)
    chosen = frozenset(methods)
    assert method_of(files, "test_method_retrieve_metadata_with_all_params", chosen) == Method(
        ("files",), "retrieve_metadata"
    )
    assert method_of(files, "test_streaming_response_upload", chosen) == Method(("files",), "upload")
    assert method_of(files, "test_method_no_such_thing", chosen) is None


ROUTES = Routes(
    frozenset(
        {
            ("GET", "/v1/agents"),
            ("POST", "/v1/agents"),
            ("POST", "/v1/skills"),
            ("POST", "/v1/skills/{skill_id}/versions"),
            ("GET", "/v1/agents/{agent_id}"),
            ("POST", "/v1/agents/{agent_id}"),
        }
    )
)
METHODS = sdk_methods()


def _record(test: str, outcome: str, *exchanges: dict[str, Any], failure: str = "") -> dict[str, Any]:
    return {
        "nodeid": f"tests/api_resources/beta/test_agents.py::TestAgents::{test}[strict]",
        "outcome": outcome,
        "exchanges": list(exchanges),
        "failure": failure,
    }


def _exchange(
    method: str, path: str, status: int, query: list[list[str]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"method": method, "path": path, "query": query or [], "status": status, **extra}


XLSX = {"type": "anthropic", "skill_id": "xlsx"}


def _limit_error() -> dict[str, Any]:
    errors = [{"loc": ["query", "limit"], "msg": "Input should be greater than or equal to 1"}]
    return {"type": "invalid_request_error", "message": "query.limit: …", "details": {"errors": errors}}


def test_verdicts_of_single_tests() -> None:
    def verdict(record: dict[str, Any]) -> tuple[str, str]:
        judged = verdict_of(record, ROUTES, frozenset(METHODS))
        return judged.verdict, judged.detail

    assert verdict(_record("test_method_list", "passed", _exchange("GET", "/v1/agents", 200))) == ("passed", "")
    assert verdict(_record("test_path_params_retrieve", "passed")) == ("client", "")
    assert verdict(_record("test_method_list", "mocked")) == ("mocked", "")
    refused = _exchange("GET", "/v1/agents", 400, [["limit", "0"]], error=_limit_error())
    assert verdict(_record("test_method_list_with_all_params", "failed", refused)) == ("refused", "`limit=0`")
    other = _exchange("GET", "/v1/agents", 400, [["limit", "5"]], error=_limit_error())
    assert verdict(_record("test_method_list", "failed", other))[0] == "failed"
    archive = _exchange("POST", "/v1/agents/agent_x/archive", 404, error={"type": "not_found_error"})
    assert verdict(_record("test_method_archive", "failed", archive)) == (
        "missing",
        "no route POST /v1/agents/agent_x/archive",
    )
    invalid = _record("test_method_retrieve", "failed", _exchange("GET", "/v1/agents/agent_x", 200), failure="E  bad")
    assert verdict(invalid) == ("failed", "E  bad")  # a response that fails strict validation
    invalid_request = {"type": "invalid_request_error"}
    skills = _exchange(
        "POST", "/v1/agents", 400, body={"skills": [{"type": "anthropic", "skill_id": "xlsx"}]}, error=invalid_request
    )
    assert verdict(_record("test_method_create_with_all_params", "failed", skills)) == (
        "refused",
        "Anthropic-provided agent `skills`",
    )
    custom = _exchange("POST", "/v1/agents", 400, body={"skills": [{"type": "custom"}]}, error=invalid_request)
    assert verdict(_record("test_method_create", "failed", custom))[0] == "failed"
    unnamed = {"multipart": [{"name": "files", "filename": None}]}
    upload = _exchange("POST", "/v1/skills/skill_x/versions", 400, body=unnamed, error=invalid_request)
    assert verdict(_record("test_method_create", "failed", upload)) == ("refused", "a skill file without a filename")
    named = {"multipart": [{"name": "files", "filename": "x/SKILL.md"}]}
    upload = _exchange("POST", "/v1/skills", 400, body=named, error=invalid_request)
    assert verdict(_record("test_method_create", "failed", upload))[0] == "failed"


def test_a_bare_version_of_a_skill_is_a_skill_version() -> None:
    source = """
class TestVersions:
    def test_method_retrieve(self, client):
        client.beta.skills.versions.retrieve(version="version", skill_id="skill_id", workspace_id="wrkspc_011CZkZaBF1")
"""
    scanned = scan_file(source, learn_prefixes([source]))["TestVersions::test_method_retrieve"]
    assert Placeholder("version", "skill_version") in scanned.placeholders
    assert Placeholder("skill_id", "skill") in scanned.placeholders


def test_a_methods_status_follows_its_worst_test() -> None:
    ok = _exchange("GET", "/v1/agents", 200)
    refused = _exchange("GET", "/v1/agents", 400, [["limit", "0"]], error=_limit_error())
    records = [
        _record("test_method_list", "passed", ok),
        _record("test_method_list_with_all_params", "failed", refused),
        _record("test_path_params_retrieve", "passed"),
        _record("test_method_retrieve", "failed", _exchange("GET", "/v1/agents/a", 500, error={"type": "api_error"})),
        _record("test_method_archive", "failed", _exchange("POST", "/v1/agents/a/archive", 404)),
        _record(
            "test_method_update_with_all_params",
            "failed",
            _exchange("POST", "/v1/agents/a", 400, body={"skills": [XLSX]}, error={"type": "invalid_request_error"}),
        ),
    ]
    results = by_method([verdict_of(r, ROUTES, frozenset(METHODS)) for r in records], METHODS)
    agent = {name: results[Method(("agents",), name)] for name in ("list", "retrieve", "archive", "update", "create")}
    assert (agent["list"].status, agent["list"].passed, agent["list"].reached) == ("passes", 1, 2)
    assert agent["list"].refused == Counter({"`limit=0`": 1})
    assert agent["retrieve"].status == "fails"  # the path-params test passing changes nothing
    assert agent["archive"].status == "missing"
    assert agent["update"].status == "refused as documented"
    assert agent["create"].status == "not exercised"


def _results(status: Status, passed: int) -> dict[str, dict[Method, MethodResult]]:
    method = Method(("agents",), "list")
    return {
        engine: {method: MethodResult(status=status, passed=passed, reached=8)} for engine in ("sqlite", "postgres")
    }


def test_the_baseline_catches_a_method_that_stops_passing() -> None:
    baseline = baseline_of(_results("passes", 6), "2.10.0")
    assert baseline["engines"]["sqlite"] == {"agents.list": {"status": "passes", "passed": 6}}
    same = compare(baseline, _results("passes", 6))
    assert same.regressions == [] and same.improvements == []
    assert len(compare(baseline, _results("fails", 5)).regressions) == 2  # one per engine
    assert len(compare(baseline, _results("passes", 5)).regressions) == 2  # fewer of its tests pass
    better = compare(baseline, _results("passes", 8))
    assert better.regressions == [] and len(better.improvements) == 2
    assert compare({"engines": {}}, _results("missing", 0)).improvements == []


def test_parity_lists_every_method_with_both_engines() -> None:
    results = _results("passes", 6)
    text = parity(results, "2.10.0", {"bedrock": "another API"})
    assert "**SDK checked: `anthropic` 2.10.0.**" in text
    assert "| `agents.list` | passes | passes | 6/8 · 6/8 |  |" in text
    assert "* the SDK's `beta/bedrock` tests: another API." in text
    assert parity(results, "2.10.0", {"bedrock": "another API"}) == text  # nothing in it varies between identical runs
