"""End to end through the official SDK against a live ``corral serve`` (API, workers, local sandboxes) driven by a
scripted model: an agent reads a file uploaded to the Files API and attached to its session through the resources
API (at creation, at the default mount path, and added after, at a custom one), writes a report to
``/mnt/session/outputs``, and once the session is idle the report is a downloadable file scoped to the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.live import LiveServer
from tests.sdk_server import agent_server, run_turn, sdk

pytestmark = pytest.mark.timeout(300)
REPORT = "# Findings\n\nThe sky is blue.\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, ScriptedModelServer]]:
    with agent_server(tmp_path_factory, "mounts-e2e") as running:
        yield running


def test_an_agent_reads_an_uploaded_file_and_leaves_a_report(served: tuple[LiveServer, ScriptedModelServer]) -> None:
    live, model = served
    with sdk(live) as client:
        uploaded = client.beta.files.upload(file=("notes.txt", b"the sky is blue\n", "text/plain"))
        model.set_script(
            {
                "replies": [
                    reply(tool_use("bash", {"command": f"cat /mnt/session/uploads/{uploaded.id} /data/notes.txt"})),
                    reply(tool_use("bash", {"command": f"rm -f /mnt/session/uploads/{uploaded.id}"})),
                    reply(tool_use("write", {"file_path": "/mnt/session/outputs/report.md", "content": REPORT})),
                    reply(text("Done.")),
                ]
            }
        )
        agent = client.beta.agents.create(
            name="Reader", model="claude-sonnet-4-6", tools=[{"type": "agent_toolset_20260401"}]
        )
        environment = client.beta.environments.create(name="files", config={"type": "cloud"})
        session = client.beta.sessions.create(
            agent=agent.id, environment_id=environment.id, resources=[{"type": "file", "file_id": uploaded.id}]
        )
        added = client.beta.sessions.resources.add(
            session.id, type="file", file_id=uploaded.id, mount_path="/data/notes.txt"
        )
        assert [r.mount_path for r in client.beta.sessions.resources.list(session.id).data] == [
            f"/mnt/session/uploads/{uploaded.id}",
            added.mount_path,
        ]
        events = run_turn(client, session.id, "Read my notes and write a report.")
        results = [(e["content"][0]["text"], e["is_error"]) for e in events if e["type"] == "agent.tool_result"]
        assert results[0] == ("the sky is blue\nthe sky is blue", False)
        assert results[1][1] and "Read-only file system" in results[1][0]
        assert not results[2][1]
        listed = client.beta.files.list(scope_id=session.id)
        assert [(f.filename, f.downloadable, f.scope.id if f.scope else None) for f in listed.data] == [
            ("report.md", True, session.id)
        ]
        assert client.beta.files.download(listed.data[0].id).read() == REPORT.encode()
        assert uploaded.id not in [f.id for f in listed.data]
