"""The deployment a chaos run attacks: two API processes (``corral serve``, no workers), two ``corral worker``
sharing one data directory (local bubblewrap sandboxes, one shared workspace disk), a scripted model server as a
child process, on SQLite (the database file alone on a small loop-mounted filesystem, so that it can be filled)
or on a PostgreSQL cluster of the run's own (so that it can be killed).

Invariants:

* Every corral process is a ``CorralProcess`` (``corral.testing.processes``), all with one admin key, a short
  lease (``LEASE_TTL``) and no egress proxy; every pid any of them ever had is kept (``pids``), for the
  leftovers check.
* ``stop()`` ends everything the deployment started, whatever state it is in (paused processes are continued
  first), and unmounts what it mounted.
"""

from __future__ import annotations

import functools
import secrets
import shutil
import signal
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import asyncpg

from corral.sandbox.journal import safe_name
from corral.sandbox.runtime import runtime_dir
from corral.testing.cluster import WORKER_READY
from corral.testing.disks import LoopFilesystem
from corral.testing.postgres import PostgresServer
from corral.testing.process import ScriptedModelProcess
from corral.testing.processes import CorralProcess, free_port, healthz, log_says, scrubbed_env
from corral.testing.steps import script

LEASE_TTL = 2
#: turns a session runs before the run moves on to fresh sessions (the model's script covers that many)
TURNS_PER_SESSION = 6
ENGINES = ("sqlite", "postgres")
#: generous: on a machine busy with other work a corral process takes minutes to import and migrate
START_SECONDS = 600.0


@dataclass
class Deployment:
    engine: str
    root: Path
    api_key: str = field(default_factory=lambda: "sk-corral-chaos-" + secrets.token_urlsafe(24))
    apis: list[CorralProcess] = field(default_factory=lambda: list[CorralProcess]())
    workers: list[CorralProcess] = field(default_factory=lambda: list[CorralProcess]())
    pids: set[int] = field(default_factory=lambda: set[int]())
    postgres: PostgresServer | None = None
    dbfs: LoopFilesystem | None = None
    model: ScriptedModelProcess | None = None
    paused: set[int] = field(default_factory=lambda: set[int]())

    @property
    def workers_dir(self) -> Path:
        return self.root / "workers"

    @property
    def db_url(self) -> str:
        if self.postgres is not None:
            return self.postgres.url.rsplit("/", 1)[0] + "/corral"
        assert self.dbfs is not None
        return f"sqlite:///{self.dbfs.mount / 'corral.db'}"

    @property
    def api_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{api.args[-1]}" for api in self.apis]

    @property
    def sandbox_disk(self) -> Path:
        """The filesystem holding every workspace of the workers' sandboxes (``corral.sandbox.local.disk``)."""
        return runtime_dir(self.workers_dir) / "fs"

    def workspace(self, session_id: str) -> Path:
        return self.sandbox_disk / "ws" / safe_name(session_id)

    def roots(self) -> list[Path]:
        """Every directory of the run's: nothing may be left running, mounted or attached from them."""
        return [self.root, *([] if self.postgres is None else [self.postgres.root])]

    def data_dirs(self) -> list[Path]:
        return [self.workers_dir, *(self.root / f"api{i}" for i in range(len(self.apis)))]

    def start(self) -> None:
        try:
            self._start_database()
            self.model = ScriptedModelProcess(script(TURNS_PER_SESSION))
            self.model.start()
            self._make_processes()
            self.launch(self.apis[0])  # it migrates the database before anyone else opens it
            launched = [(process, process.launch()) for process in [*self.apis[1:], *self.workers]]
            for process, ready in launched:  # side by side: a start costs seconds of CPU on a busy machine
                process.wait_ready(ready)
                self.pids.add(process.pid)
        except BaseException:
            self.stop()
            raise

    def _start_database(self) -> None:
        if self.engine == "postgres":
            # a directory of its own under /tmp: the server runs as `postgres`, which may not reach into ``root``
            self.postgres = PostgresServer(Path(tempfile.mkdtemp(prefix="corral-chaos-pg-")))
            self.postgres.init()
            self.postgres.start()
            anyio.run(self._create_database)
        else:
            self.dbfs = LoopFilesystem(self.root / "db.img", self.root / "db")
            self.dbfs.create()

    async def _create_database(self) -> None:
        assert self.postgres is not None
        connection = await asyncpg.connect(self.postgres.url)
        try:
            await connection.execute("CREATE DATABASE corral")
        finally:
            await connection.close()

    def _env(self, data_dir: Path, **extra: str) -> dict[str, str]:
        assert self.model is not None
        return scrubbed_env(
            {
                "CORRAL_DATABASE_URL": self.db_url,
                "CORRAL_DATA_DIR": str(data_dir),
                "CORRAL_API_KEY": self.api_key,
                "CORRAL_RATE_WRITES_PER_MINUTE": "0",
                "CORRAL_RATE_READS_PER_MINUTE": "0",
                "CORRAL_LEASE_TTL": str(LEASE_TTL),
                "CORRAL_MODEL_RETRY_BASE": "0.05",
                "CORRAL_EGRESS": "0",
                "ANTHROPIC_BASE_URL": self.model.url,
                "ANTHROPIC_API_KEY": "sk-ant-chaos",
                **extra,
            }
        )

    def _make_processes(self) -> None:
        for i in range(2):
            port = free_port()
            args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
            env = self._env(self.root / f"api{i}", CORRAL_WORKERS="0")
            ready = functools.partial(healthz, f"http://127.0.0.1:{port}")
            self.apis.append(CorralProcess(args, env, self.root / f"api{i}.log", ready, start_timeout=START_SECONDS))
        for i in range(2):
            log = self.root / f"worker{i}.log"
            ready = functools.partial(log_says, log, WORKER_READY)
            self.workers.append(
                CorralProcess(["worker"], self._env(self.workers_dir), log, ready, start_timeout=START_SECONDS)
            )

    def launch(self, process: CorralProcess) -> None:
        """Start ``process`` (again) and remember its pid."""
        process.wait_ready(process.launch())
        self.pids.add(process.pid)

    def lease_owners(self) -> dict[str, str] | None:
        """Session id → the lease owner of every session that has one (None: the database did not answer)."""
        try:
            if self.postgres is not None:
                return anyio.run(self._postgres_owners)
            return self._sqlite_owners()
        except (OSError, sqlite3.Error, asyncpg.PostgresError):
            return None

    def _sqlite_owners(self) -> dict[str, str]:
        assert self.dbfs is not None
        uri = f"file:{self.dbfs.mount / 'corral.db'}?mode=ro"
        with sqlite3.connect(uri, uri=True, timeout=10) as connection:
            rows = connection.execute("SELECT id, lease_owner FROM sessions WHERE lease_owner IS NOT NULL").fetchall()
        return {str(sid): str(owner) for sid, owner in rows}

    async def _postgres_owners(self) -> dict[str, str]:
        connection = await asyncpg.connect(self.db_url, timeout=10)
        try:
            rows = await connection.fetch("SELECT id, lease_owner FROM sessions WHERE lease_owner IS NOT NULL")
        finally:
            await connection.close()
        return {str(row["id"]): str(row["lease_owner"]) for row in rows}

    def worker_of(self, owner: str) -> CorralProcess | None:
        """The live worker whose lease owner id is ``owner`` (it holds the pid: ``worker_id()``)."""
        pid = int(owner.split(":")[1])
        return next((w for w in self.workers if w.alive and w.pid == pid), None)

    def restart_dead(self) -> None:
        for process in [*self.apis, *self.workers]:
            if not process.alive:
                self.launch(process)

    def stop(self) -> None:
        for process in [*self.workers, *self.apis]:
            if process.process is not None and process.alive and process.pid in self.paused:
                process.process.send_signal(signal.SIGCONT)
            process.stop()
        if self.model is not None:
            self.model.stop()
        if self.postgres is not None:
            self.postgres.stop()
            shutil.rmtree(self.postgres.root, ignore_errors=True)
        if self.dbfs is not None:
            self.dbfs.unmount()
