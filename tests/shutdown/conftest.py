"""One deployment per module on PostgreSQL: two API processes (``corral serve``, no workers) and two ``corral
worker`` on one host (one data directory: one sandbox journal, as on a machine that runs two workers), the lease
TTL at 60 s, so that a session taken over at lease expiry would miss every bound these tests wait within.

Every turn runs one ``bash`` step (``step``): it appends a line to ``runs-<n>.log`` (one per execution: the side
effect counted), touches ``started-<n>`` and waits for ``go-<n>``, which the test writes when it wants the call
to return. ``started-<n>`` appearing in the session's workspace is the signal that the call is in flight.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import time
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
from corral.testing import ScriptedModelServer, reply, text, tool_use
from corral.testing.cluster import WORKER_READY
from corral.testing.processes import CorralProcess, lease_holder, log_says, scrubbed_env, wait_until
from tests.conftest import database_url
from tests.live import LiveServer
from tests.sdk_server import send_text, toolset_session

T = TypeVar("T")
TURNS = 8
#: how long a SIGTERMed process may take to exit, and a session to be taken over: below the lease TTL (60 s)
BOUND_SECONDS = 45.0


def step(n: int) -> str:
    return f"echo run >> runs-{n}.log; touch started-{n}; until [ -e go-{n} ]; do sleep 0.02; done; echo done-{n}"


SCRIPT = {
    "replies": [
        part for n in range(1, TURNS + 1) for part in (reply(tool_use("bash", {"command": step(n)})), reply(text("ok")))
    ],
    "repeat_last": True,
}


def wait_for(probe: Callable[[], T | None], what: str, seconds: float = BOUND_SECONDS) -> T:
    """Poll ``probe`` (another process's doing) until it gives a value, for at most ``seconds``."""
    return wait_until(probe, what, seconds)


def exit_seconds(process: CorralProcess) -> float:
    """SIGTERM ``process``; the seconds it took to exit (fails past ``BOUND_SECONDS``)."""
    assert process.process is not None
    began = time.monotonic()
    process.process.send_signal(signal.SIGTERM)
    try:
        process.process.wait(timeout=BOUND_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"{process.name} did not exit within {BOUND_SECONDS} s:\n{process.log_tail()}") from None
    took = time.monotonic() - began
    print(f"{process.name} exited {took:.2f} s after SIGTERM")  # the measure the README's bullet reports
    return took


@dataclass
class Deployment:
    db_url: str
    data_dir: Path
    apis: list[LiveServer]
    workers: list[CorralProcess]

    def client(self, api: int) -> anthropic.Anthropic:
        http = httpx2.Client(trust_env=False)
        url, key = self.apis[api]
        return anthropic.Anthropic(base_url=url, api_key=key, max_retries=0, http_client=http)

    def new_session(self) -> str:
        with self.client(1) as client:
            return toolset_session(client, "drain")

    def send(self, session_id: str, prompt: str) -> str:
        with self.client(1) as client:
            return send_text(client, session_id, prompt)

    def workspace(self, session_id: str) -> Path:
        return runtime_dir(self.data_dir / "workers") / "fs" / "ws" / safe_name(session_id)

    def started(self, session_id: str, n: int) -> None:
        marker = self.workspace(session_id) / f"started-{n}"
        wait_for(lambda: True if marker.exists() else None, f"step {n} of {session_id} started", 120)

    def go(self, session_id: str, n: int) -> None:
        (self.workspace(session_id) / f"go-{n}").touch()

    def runs(self, session_id: str, n: int) -> int:
        return len((self.workspace(session_id) / f"runs-{n}.log").read_text().split())

    def holder(self, session_id: str) -> CorralProcess:
        """The worker whose lease the session is under."""
        return lease_holder(self.db_url, session_id, self.workers, BOUND_SECONDS)

    def events(self, session_id: str) -> list[dict[str, Any]]:
        with self.client(1) as client:
            return [e.model_dump() for e in client.beta.sessions.events.list(session_id, limit=1000)]

    def idle_after(self, session_id: str, after: str) -> list[dict[str, Any]]:
        """The session's events after ``after`` up to its next ``session.status_idle`` (waited for)."""

        def probe() -> list[dict[str, Any]] | None:
            events = self.events(session_id)
            rest = events[[e["id"] for e in events].index(after) + 1 :]
            ends = [i for i, e in enumerate(rest) if e["type"] == "session.status_idle"]
            return rest[: ends[0] + 1] if ends else None

        return wait_for(probe, f"{session_id} idle again")

    def restart_stopped(self) -> None:
        for process in [*self.apis, *self.workers]:
            alive = process.process is not None and process.process.poll() is None
            if not alive:
                process.start()


def descendants(pid: int) -> list[int]:
    """Every process under ``pid`` (sandboxes, their shells, egress proxies)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def signal_all(pids: list[int], number: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("drain")
    db_url = anyio.run(database_url, "postgres", tmp)
    with ScriptedModelServer(SCRIPT) as model:
        env = {"ANTHROPIC_BASE_URL": model.url, "CORRAL_LEASE_TTL": "60", "CORRAL_EGRESS": "0"}
        apis = [LiveServer(db_url, tmp / f"api{i}", {**env, "CORRAL_WORKERS": "0"}) for i in range(2)]
        apis[1].api_key = apis[0].api_key  # one key for both: created at the first start
        worker_env = scrubbed_env({**apis[0].server_env(), **env, "CORRAL_DATA_DIR": str(tmp / "workers")})
        workers = [
            CorralProcess(
                ["worker"],
                worker_env,
                tmp / f"worker{i}.log",
                functools.partial(log_says, tmp / f"worker{i}.log", WORKER_READY),
                stop_timeout=BOUND_SECONDS,
            )
            for i in range(2)
        ]
        deployed = Deployment(db_url, tmp, apis, workers)
        try:
            for process in [*apis, *workers]:
                process.start()
            yield deployed
        finally:
            for process in [*apis, *workers]:
                process.stop()
