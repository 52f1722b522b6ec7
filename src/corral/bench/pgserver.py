"""PostgreSQL for the benchmarks: an existing server (``--postgres-url``) or a throwaway cluster.

The throwaway cluster runs with PostgreSQL's production durability defaults (``fsync=on``,
``synchronous_commit=on``, ``full_page_writes=on``), on loopback, in a temporary
directory that is removed afterwards. When we are root it runs as the ``postgres`` user (initdb refuses root).

Invariants: every suite gets a fresh, empty database (``fresh_url``); the cluster and every process it
started are stopped by ``aclose`` even when a suite crashed.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import tempfile
from pathlib import Path

import anyio

from corral.bench import pg


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresSource:
    """Hands out fresh databases; ``unavailable`` says why there are none."""

    def __init__(self, url: str | None = None):
        self.admin_url = url
        self.unavailable: str | None = None
        self.settings: dict[str, str] = {}
        self._root: Path | None = None
        self._stop: list[str] = []
        self._run_as: list[str] = []

    async def start(self) -> None:
        if self.admin_url is None:
            try:
                await self._start_cluster()
            except (OSError, RuntimeError) as exc:
                self.unavailable = f"cannot start a PostgreSQL server: {exc}"
                return
        await self._read_settings()

    async def _start_cluster(self) -> None:
        pgbin = _server_bin()
        if pgbin is None:
            raise RuntimeError("no PostgreSQL server binaries (apt-get install postgresql-15)")
        self._root = root = Path(tempfile.mkdtemp(prefix="corral-bench-pg."))
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(root, entry.pw_uid, entry.pw_gid)
            self._run_as = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
        data, port = root / "data", _free_port()
        await self._run([str(pgbin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        options = f"-k {root} -p {port} -c listen_addresses=127.0.0.1 -c max_connections=600"
        pg_ctl = str(pgbin / "pg_ctl")
        # Known before the start: a run stopped while the server comes up still stops it (a no-op if it never ran).
        self._stop = [pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]
        await self._run([pg_ctl, "-D", str(data), "-l", str(root / "pg.log"), "-w", "-t", "60", "-o", options, "start"])
        self.admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    async def _run(self, command: list[str]) -> None:
        # Not cut short by a stopped run: killing initdb or pg_ctl leaves their children writing into the
        # cluster directory after it is removed. Both steps are bounded (pg_ctl by its -t).
        with anyio.CancelScope(shield=True):
            await _run_checked(self._run_as, command)

    async def _read_settings(self) -> None:
        assert self.admin_url is not None
        conn = await pg.connect(self.admin_url)
        try:
            self.settings["version"] = str(await conn.fetchval("SHOW server_version"))
            for name in ("fsync", "synchronous_commit", "full_page_writes", "wal_sync_method"):
                self.settings[name] = str(await conn.fetchval(f"SHOW {name}"))
        finally:
            await conn.close()

    def server_pids(self) -> list[int]:
        """The throwaway cluster's postmaster (``pg_ctl`` detaches it from our process tree), if we started one."""
        if self._root is None:
            return []
        try:
            return [int((self._root / "data" / "postmaster.pid").read_text().split()[0])]
        except (OSError, ValueError, IndexError):
            return []

    async def fresh_url(self) -> str:
        """A new empty database on the server."""
        if self.admin_url is None:
            raise RuntimeError(self.unavailable or "PostgreSQL is not started")
        name = "bench_" + secrets.token_hex(5)
        conn = await pg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    async def aclose(self) -> None:
        if self._stop:
            await anyio.run_process([*self._run_as, *self._stop], check=False)
            self._stop = []
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None


async def _run_checked(prefix: list[str], command: list[str]) -> None:
    result = await anyio.run_process([*prefix, *command], check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed: {result.stderr.decode(errors='replace')[-400:]}")
