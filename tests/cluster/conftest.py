"""One cluster per module (``corral.testing.cluster``: two ``serve``, two ``worker``, two ``sandbox-host`` as
separate processes on ``script/test``'s PostgreSQL and S3-protocol server, workspace snapshots on), driven by a
scripted model server through the official SDK, and the means to watch and steer it from outside:

* every turn of every session runs one ``bash`` step (``STEP``): it lists what the workspace holds from earlier
  steps, appends a random line to ``runs-<n>.log`` (one line per execution: the side effect counted), touches
  ``started-<n>`` and then waits for ``go-<n>``. The test sees ``started-<n>`` appear in a host's copy of the
  workspace (the call is in flight, and there), does what it wants at that moment, and writes ``go-<n>`` there;
  the step then writes ``kept-<n>.txt``, the file later turns must read back.
* ``Turns`` sends a user message through one API process and follows the session's events to its
  ``session.status_idle``, resuming on the other API process (``Last-Event-ID``) when the first one dies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anthropic
import anyio
import httpx2
import pytest

from corral.sandbox.journal import safe_name
from corral.sandbox.runtime import runtime_dir
from corral.testing import ScriptedModelServer, processes, reply, steps, text, tool_use
from corral.testing.cluster import Cluster
from corral.testing.processes import CorralProcess, wait_until
from tests.conftest import database_url
from tests.sdk_server import s3_blob_env, send_text, toolset_session

TURNS = 6
T = TypeVar("T")
WAIT_SECONDS = 120.0


def step(n: int) -> str:
    """The bash command of turn ``n``."""
    return (
        "grep -H . kept-*.txt runs-*.log 2>/dev/null; "
        f"echo $(head -c8 /dev/urandom | od -An -tx1 | tr -d ' ') >> runs-{n}.log; "
        f"touch started-{n}; until [ -e go-{n} ]; do sleep 0.02; done; echo {n} > kept-{n}.txt"
    )


# Replies are chosen by the number of assistant messages so far: turn n asks for its step, then ends.
SCRIPT = {
    "replies": [
        part for n in range(1, TURNS + 1) for part in (reply(tool_use("bash", {"command": step(n)})), reply(text("ok")))
    ],
    "repeat_last": True,
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("cluster")
    db_url = anyio.run(database_url, "postgres", tmp)
    blobs = anyio.run(s3_blob_env)
    with ScriptedModelServer(SCRIPT) as model:
        # a short lease: a killed worker's sessions are taken over within seconds
        env = {**blobs, "ANTHROPIC_BASE_URL": model.url, "CORRAL_LEASE_TTL": "2", "CORRAL_EGRESS": "0"}
        started = Cluster(db_url, tmp, env)
        started.start()
        try:
            yield started
        finally:
            started.stop()


def workspace(cluster: Cluster, host: int, session_id: str) -> Path:
    """The session's workspace on sandbox host ``host`` (``corral.sandbox.local``: ``<run>/fs/ws/<key>``)."""
    return runtime_dir(cluster.data_dir(f"host{host}")) / "fs" / "ws" / safe_name(session_id)


def wait_for(probe: Callable[[], T | None], what: str) -> T:
    """Poll ``probe`` (a file appearing, a row changing: another process's doing) until it gives a value."""
    return wait_until(probe, what, WAIT_SECONDS)


def in_flight(cluster: Cluster, session_id: str, n: int, ended: Callable[[], bool]) -> int | None:
    """The host on which step ``n`` of the session is running, once it is; None if the turn ``ended`` without
    starting it (its call failed first, e.g. on a host that died since the worker last used it)."""
    hosts = range(len(cluster.hosts))
    polls = iter(range(1 << 30))

    def probe() -> int | tuple[None] | None:
        where = next((h for h in hosts if (workspace(cluster, h, session_id) / f"started-{n}").exists()), None)
        if where is not None:
            return where
        return (None,) if next(polls) % 10 == 9 and ended() else None  # the API asked now and then, not each poll

    found = wait_for(probe, f"step {n} of {session_id} started, or its turn ended")
    return None if isinstance(found, tuple) else found


def release(cluster: Cluster, host: int, session_id: str, n: int) -> None:
    (workspace(cluster, host, session_id) / f"go-{n}").touch()


def lease_holder(cluster: Cluster, session_id: str) -> CorralProcess:
    """The worker process whose lease the session is under."""
    return processes.lease_holder(cluster.db_url, session_id, cluster.workers, WAIT_SECONDS)


def executions(cluster: Cluster, session_id: str, n: int) -> set[str]:
    """Every distinct line of ``runs-<n>.log`` in any host's copy of the workspace: one per execution of step
    ``n`` (a restored copy repeats the lines it was restored with, never adds one)."""
    return steps.executions((workspace(cluster, host, session_id) for host in range(len(cluster.hosts))), n)


@dataclass
class Turns:
    cluster: Cluster

    def client(self, api: int) -> anthropic.Anthropic:
        http = httpx2.Client(trust_env=False)
        url = self.cluster.api_urls[api]
        return anthropic.Anthropic(base_url=url, api_key=self.cluster.api_key, max_retries=0, http_client=http)

    def new_session(self) -> str:
        with self.client(0) as client:
            return toolset_session(client, "cluster")

    def send(self, session_id: str, prompt: str, api: int = 0) -> str:
        """The id of the user message sent."""
        with self.client(api) as client:
            return send_text(client, session_id, prompt)

    def idle_after(self, session_id: str, after: str) -> bool:
        """Whether the session went idle since event ``after``."""
        with self.client(1) as client:
            events = [(e.id, e.type) for e in client.beta.sessions.events.list(session_id, limit=1000)]
        ids = [event_id for event_id, _ in events]
        return any(kind == "session.status_idle" for _, kind in events[ids.index(after) :])

    def until_idle(self, session_id: str, after: str, api: int = 0) -> list[dict[str, Any]]:
        """The session's events after ``after`` up to its next ``session.status_idle``; when an API process dies
        mid-stream, the stream resumes on the next one from the last event received."""
        seen: list[dict[str, Any]] = []
        for attempt in range(4):
            last = seen[-1]["id"] if seen else after
            try:
                resume = {"Last-Event-ID": last}
                with self.client((api + attempt) % len(self.cluster.serves)) as client:
                    with client.beta.sessions.events.stream(session_id, extra_headers=resume) as events:
                        for event in events:
                            seen.append(event.model_dump())
                            if event.type == "session.status_idle":
                                return seen
            except (anthropic.APIConnectionError, httpx2.TransportError):
                continue  # that API process died: the next one serves the rest
        raise AssertionError(f"{session_id} never went idle; saw {[e['type'] for e in seen]}")


def bash_outputs(events: list[dict[str, Any]]) -> list[str]:
    return [text for text, _ in tool_results(events)]


def tool_results(events: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """``(text, is_error)`` of each tool result among ``events``."""
    return [
        ("".join(block.get("text", "") for block in e["content"]), bool(e["is_error"]))
        for e in events
        if e["type"] == "agent.tool_result"
    ]


def listed(output: str, name: str) -> list[str]:
    """The lines of file ``name`` that a step's ``grep -H`` listed."""
    return [line.split(":", 1)[1] for line in output.splitlines() if line.startswith(f"{name}:")]
