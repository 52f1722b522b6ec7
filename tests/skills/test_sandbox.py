"""An agent uses a skill end to end, through the official SDK on a live ``corral serve`` with workers and real
sandboxes on both engines (SQLite + local blobs, PostgreSQL + the S3-protocol store), driven by a scripted model:
each session's pinned version is read-only at ``/workspace/skills/<name>/`` (its script runs, keeping its
executable bit), the system prompt the model receives lists the skill, and sessions keep their version after the
skill changes or is deleted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.conftest import ENGINES, database_url
from tests.live import LiveServer, live_server
from tests.sdk_server import run_turn, s3_blob_env, sdk
from tests.skills.conftest import skill_md, unique_name, zipped

pytestmark = pytest.mark.timeout(300)
NAME = unique_name("reporter")
ROOT = f"/workspace/skills/{NAME}"
DESCRIPTION = "Writes the weekly report; use it whenever a report is asked for."
COMMAND = (
    f"cat {ROOT}/SKILL.md; stat -c '%a %n' {ROOT}/SKILL.md {ROOT}/scripts/run.sh; {ROOT}/scripts/run.sh;"
    f" touch {ROOT}/new.md 2>&1; echo rc=$?"
)
SCRIPT = {"replies": [reply(tool_use("bash", {"command": COMMAND})), reply(text("Done."))]}


def skill_zip(body: str) -> bytes:
    run = b"#!/bin/sh\necho report ready\n"
    entries = [(f"{NAME}/SKILL.md", skill_md(NAME, DESCRIPTION, body)), (f"{NAME}/scripts/run.sh", run)]
    return zipped(entries, executable=f"{NAME}/scripts/run.sh")


@pytest.fixture(scope="module", params=ENGINES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, ScriptedModelServer]]:
    tmp = tmp_path_factory.mktemp(f"skills-sandbox-{request.param}")
    db_url = anyio.run(database_url, request.param, tmp)
    blobs = anyio.run(s3_blob_env) if request.param == "postgres" else {}  # PostgreSQL + the S3-protocol store
    with ScriptedModelServer(SCRIPT) as model_server:
        env = {"ANTHROPIC_BASE_URL": model_server.url, "CORRAL_LEASE_TTL": "5", **blobs}
        with live_server(db_url, data_dir=tmp / "data", env=env) as running:
            yield running, model_server


def tool_output(events: list[dict[str, Any]]) -> str:
    results = [event for event in events if event["type"] == "agent.tool_result"]
    assert len(results) == 1 and not results[0]["is_error"], results
    return str(results[0]["content"][0]["text"])


def test_an_agent_uses_its_pinned_skill_in_the_sandbox(server: tuple[LiveServer, ScriptedModelServer]) -> None:
    live, model_server = server
    with sdk(live) as client:
        skill = client.beta.skills.create(files=[(f"{NAME}.zip", skill_zip("# Version one\n"))])
        tools: Any = [{"type": "agent_toolset_20260401"}]
        skills: Any = [{"type": "custom", "skill_id": skill.id}]
        agent = client.beta.agents.create(name="Reporter", model="claude-sonnet-4-6", tools=tools, skills=skills)
        environment = client.beta.environments.create(name=unique_name("env"), config={"type": "cloud"})
        first = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
        client.beta.skills.versions.create(skill.id, files=[(f"{NAME}.zip", skill_zip("# Version two\n"))])
        second = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
        client.beta.skills.delete(skill.id)  # sessions that started keep what they were pinned to
        outputs = [tool_output(run_turn(client, session.id, "The report, please.")) for session in (first, second)]
    for output, body in zip(outputs, ("# Version one", "# Version two"), strict=True):
        assert f"description: {DESCRIPTION}\n---\n{body}\n" in output
        assert f"644 {ROOT}/SKILL.md\n755 {ROOT}/scripts/run.sh\nreport ready\n" in output
        assert "Read-only file system" in output and "rc=1" in output
    system = str(model_server.requests[0].body.get("system"))
    assert f"<name>{NAME}</name>" in system and f"<description>{DESCRIPTION}</description>" in system
    assert f"<location>{ROOT}/SKILL.md</location>" in system
