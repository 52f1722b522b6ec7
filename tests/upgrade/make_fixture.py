"""Write the upgrade fixtures: a database as this release leaves it, for the next release's migrations to meet.

    python -m tests.upgrade.make_fixture sqlite                       # tests/upgrade/fixtures/sqlite.db
    python -m tests.upgrade.make_fixture postgres --postgres-url URL  # tests/upgrade/fixtures/postgres.sql

Each fixture is written by a real ``corral serve`` of this release through the official SDK, then left the way a
crash leaves it:

* an agent with two versions, an environment, a vault with a credential;
* ``finished``: a session whose turn ran a tool and ended (its history is recorded in ``meta.json``);
* ``crashed``: a session whose server was killed (SIGKILL) while its model request was in flight: an open
  ``span.model_request_start`` and a lease held by a worker that no longer exists.

``meta.json`` keeps what the test needs and the database cannot give back: the API key (stored hashed), the
vault's master key, the ids, and the event types of ``finished``. Regenerate the fixtures only when a release is
cut; the test (``test_upgrade``) must keep passing on the old ones.
"""

from __future__ import annotations

import argparse
import json
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Generator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import anthropic

from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.live import LiveServer
from tests.sdk_server import run_turn

FIXTURES = Path(__file__).parent / "fixtures"
SCRIPT = {"replies": [reply(tool_use("bash", {"command": "echo kept > kept.txt"})), reply(text("Done."))]}


@contextmanager
def silent_model() -> Generator[str]:
    """A model endpoint that accepts requests and never answers: a turn stays in its model request."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        for connection in held:
            connection.close()


def _vault_key() -> str:
    done = subprocess.run([sys.executable, "-m", "corral", "vault", "generate-key"], capture_output=True, check=True)
    return done.stdout.decode().strip().splitlines()[-1]


def _populate(client: anthropic.Anthropic) -> dict[str, Any]:
    agent = client.beta.agents.create(
        name="kept", model="claude-sonnet-4-6", tools=[{"type": "agent_toolset_20260401"}]
    )
    client.beta.agents.update(agent.id, version=agent.version, system="Be brief.")
    environment = client.beta.environments.create(name="kept", config={"type": "cloud"})
    vault = client.beta.vaults.create(display_name="kept")
    client.beta.vaults.credentials.create(
        vault.id,
        display_name="api",
        auth={"type": "static_bearer", "token": "kept-token", "mcp_server_url": "https://mcp.example.com/mcp"},
    )
    finished = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
    history = run_turn(client, finished.id, "Write the file.")
    crashed = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
    return {
        "agent": agent.id,
        "environment": environment.id,
        "vault": vault.id,
        "finished": finished.id,
        "finished_types": [event["type"] for event in history],
        "crashed": crashed.id,
    }


def _crash_mid_request(server: LiveServer, client: anthropic.Anthropic, session_id: str) -> None:
    client.beta.sessions.events.send(
        session_id, events=[{"type": "user.message", "content": [{"type": "text", "text": "Carry on."}]}]
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        types = [event.type for event in client.beta.sessions.events.list(session_id)]
        if "span.model_request_start" in types:
            server.kill()
            return
        time.sleep(0.05)  # noqa: TID251 - a one-off tool polling another process
    raise RuntimeError("the crashed session never reached its model request")


def write(db_url: str, data_dir: Path) -> dict[str, Any]:
    """Populate the database at ``db_url`` through a live server; returns the fixture's ``meta``."""
    vault_key = _vault_key()
    with ScriptedModelServer(SCRIPT) as model:
        env = {"ANTHROPIC_BASE_URL": model.url, "CORRAL_LEASE_TTL": "5", "CORRAL_VAULT_KEY": vault_key}
        server = LiveServer(db_url=db_url, data_dir=data_dir, env=env)
        server.start()
        try:
            api_key = server.create_key()
            with anthropic.Anthropic(base_url=server.base_url, api_key=api_key, max_retries=0) as client:
                meta = _populate(client)
        finally:
            server.stop()
    with silent_model() as url:
        server.env["ANTHROPIC_BASE_URL"] = url
        server.start()
        try:
            with anthropic.Anthropic(base_url=server.base_url, api_key=api_key, max_retries=0) as client:
                _crash_mid_request(server, client, meta["crashed"])
        finally:
            server.kill()
    return {**meta, "api_key": api_key, "vault_key": vault_key}


def _sqlite_copy(source: Path, out: Path) -> None:
    """One file holding what the killed server committed (its write-ahead log included)."""
    out.unlink(missing_ok=True)
    with closing(sqlite3.connect(source)) as db, closing(sqlite3.connect(out)) as copy:
        db.backup(copy)


def _pg_dump(url: str, out: Path) -> None:
    pg_bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    command = [str(pg_bin / "pg_dump"), "--no-owner", "--no-privileges", "--inserts", "--dbname", url]
    dump = subprocess.run(command, capture_output=True, check=True, text=True).stdout
    # plain SQL only: psql's meta-commands (``\\restrict``) are not SQL, and the test loads it without psql
    out.write_text("".join(line for line in dump.splitlines(keepends=True) if not line.startswith("\\")))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.upgrade.make_fixture", description=__doc__)
    parser.add_argument("engine", choices=["sqlite", "postgres"])
    parser.add_argument("--postgres-url", help="an empty database to write (postgres)")
    args = parser.parse_args()
    FIXTURES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="corral-fixture-") as scratch:
        data = Path(scratch)
        if args.engine == "sqlite":
            meta = write(f"sqlite:///{data / 'corral.db'}", data)
            _sqlite_copy(data / "corral.db", FIXTURES / "sqlite.db")
        else:
            meta = write(args.postgres_url, data)
            _pg_dump(args.postgres_url, FIXTURES / "postgres.sql")
    (FIXTURES / f"{args.engine}.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
