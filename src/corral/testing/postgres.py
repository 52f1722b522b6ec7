"""``PostgresServer``: a throwaway PostgreSQL cluster that a test may crash (``kill -9`` of every server process)
and start again, for the chaos harness (``corral.testing.chaos``).

Invariants:

* The cluster lives in a directory of the caller's, on loopback on a free port, with PostgreSQL's durable
  defaults (``fsync``, ``synchronous_commit`` on): a crash loses nothing a commit acknowledged.
* As root it runs as the ``postgres`` user (``initdb`` refuses root); ``unavailable()`` says why it cannot run
  at all (no server binaries, no such user), before anything is started.
* ``kill()`` is a crash: SIGKILL to the postmaster and every backend at once, nothing shut down; ``start()``
  after it runs PostgreSQL's crash recovery. ``stop()`` ends it whatever state it is in.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from corral.testing.processes import free_port


def server_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def unavailable() -> str | None:
    """Why no throwaway PostgreSQL can run here (None: it can)."""
    if server_bin() is None:
        return "no PostgreSQL server binaries (apt-get install postgresql-15)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root needs a `postgres` user to run the server as"
    return None


@dataclass
class PostgresServer:
    root: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_server(self) -> list[str]:
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] if os.geteuid() == 0 else []

    def _run(self, *command: str) -> None:
        result = subprocess.run([*self._as_server(), *command], capture_output=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} failed: {result.stderr.decode(errors='replace')[-400:]}")

    def init(self) -> None:
        why = unavailable()
        if why is not None:
            raise RuntimeError(why)
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        pgbin = server_bin()
        assert pgbin is not None
        self._run(str(pgbin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        """Start the server and return once it accepts connections (``pg_ctl -w``)."""
        pgbin = server_bin()
        assert pgbin is not None
        options = f"-k {self.root} -p {self.port} -c listen_addresses=127.0.0.1 -c max_connections=300"
        log = str(self.root / "pg.log")
        self._run(str(pgbin / "pg_ctl"), "-D", str(self.data), "-l", log, "-w", "-t", "120", "-o", options, "start")

    def pids(self) -> list[int]:
        """The postmaster and every process it started (backends, writers)."""
        try:
            postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        children = [
            int(entry.name)
            for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and _parent(entry) == postmaster
        ]
        return [postmaster, *children]

    def kill(self) -> None:
        """A crash: SIGKILL to every server process at once; returns once they are all gone."""
        pids = self.pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in pids:
            _wait_gone(pid)
        # a killed postmaster can linger as a zombie (PID 1 reaps lazily here): its lock files would refuse the
        # restart, as they name a pid that still exists
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        for socket_file in self.root.glob(f".s.PGSQL.{self.port}*"):
            socket_file.unlink(missing_ok=True)

    def stop(self) -> None:
        pgbin = server_bin()
        if pgbin is not None and self.data.exists():
            command = [*self._as_server(), str(pgbin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]
            subprocess.run(command, capture_output=True, timeout=120, check=False)


def _parent(entry: Path) -> int | None:
    try:
        return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _wait_gone(pid: int) -> None:
    """Wait for a killed process (not our child: ``pg_ctl`` detached it) to leave the process table."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        import select

        select.select([pidfd], [], [], 30)  # readable once the process has exited
    finally:
        os.close(pidfd)
