"""``CorralProcess``: one ``python -m corral …`` child process, started, waited for, killed and stopped; the one
process-starting helper of the live tests (``tests/live.py``, ``tests/hosts/live_host.py``) and of the cluster
(``corral.testing.cluster``, ``script/cluster``).

Usage::

    process = CorralProcess(["worker"], scrubbed_env({...}), data_dir / "worker.log", log_says("worker"))
    process.start()        # returns once ready; raises with the log's tail if the process dies first
    process.kill()         # SIGKILL: a crash, nothing flushed or closed
    process.start()        # the same command, environment and log (appended to)
    process.stop()         # SIGTERM, then SIGKILL after ``stop_timeout``

Invariants:

* The child sees exactly ``env`` (build it with ``scrubbed_env``: nothing ``CORRAL_*``, ``ANTHROPIC_*``,
  ``OPENAI_*`` or proxy-related leaks in from the caller), runs the caller's interpreter, and writes stdout and
  stderr together to ``log_path`` (appended, so a restarted process keeps its history).
* ``start()`` returns only once ``ready()`` is true, so a caller never races the child's start-up; readiness is a
  real signal (``/healthz`` answering, a line in the log), never a delay.
* ``wait_until`` polls what another process does (a file appearing, a row changing) until it shows, and fails
  naming what never happened; ``lease_holder`` is the worker whose lease a session is under (its owner id holds
  the pid: ``corral.harness.worker.worker_id``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import anyio
import asyncpg
import httpx

_SCRUBBED_PREFIXES = ("CORRAL_", "ANTHROPIC_", "OPENAI_")
_SCRUBBED = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"}
_POLL_SECONDS = 0.05
_WAIT_POLL_SECONDS = 0.02
T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrubbed_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without ``CORRAL_*``, ``ANTHROPIC_*``, ``OPENAI_*`` and proxy settings, plus
    ``extra``: what a corral process started from here sees."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES) and k not in _SCRUBBED}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def healthz(url: str) -> Callable[[], bool]:
    """Ready once ``GET <url>/healthz`` answers 200."""

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=2.0, trust_env=False).status_code == 200
        except httpx.TransportError:
            return False

    return ready


def log_says(log_path: Path, text: str) -> Callable[[], bool]:
    """Ready once the log holds ``text`` after what it held when the process started."""
    start = log_path.stat().st_size if log_path.exists() else 0

    def ready() -> bool:
        with log_path.open("rb") as log:
            log.seek(start)
            return text.encode() in log.read()

    return ready


@dataclass
class CorralProcess:
    #: the arguments after ``python -m corral`` (``["serve", "--port", "8080"]`` …)
    args: list[str]
    env: dict[str, str]
    log_path: Path
    #: builds, at each start, the check that the started process is ready
    readiness: Callable[[], Callable[[], bool]]
    start_timeout: float = 60.0
    stop_timeout: float = 10.0
    process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return f"corral {self.args[0]}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    def start(self) -> None:
        self.wait_ready(self.launch())

    def launch(self) -> Callable[[], bool]:
        """Start the process without waiting for it; returns its readiness check, for ``wait_ready`` (several
        processes launched first and waited for after start side by side)."""
        if self.alive:
            raise RuntimeError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        ready = self.readiness()
        with self.log_path.open("ab") as log:
            command = [sys.executable, "-m", "corral", *self.args]
            self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return ready

    def wait_ready(self, ready: Callable[[], bool]) -> None:
        """Return once ``ready()`` holds; raise with the log's tail if the process dies or is not ready in time."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited during startup:\n{self.log_tail()}")
            if ready():
                return
            time.sleep(_POLL_SECONDS)  # noqa: TID251 - a synchronous helper polling another process
        self.kill()
        raise RuntimeError(f"{self.name} was not ready after {self.start_timeout}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL, like a crash: no shutdown code runs."""
        if self.process is not None and self.alive:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """Graceful shutdown (SIGTERM), falling back to SIGKILL after ``stop_timeout``."""
        if self.process is None or not self.alive:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    @contextmanager
    def paused(self) -> Generator[None]:
        """Hold the process stopped (SIGSTOP … SIGCONT): its sockets accept connections, nothing answers."""
        assert self.process is not None and self.alive
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def wait_until(probe: Callable[[], T | None], what: str, seconds: float) -> T:
    """Poll ``probe`` until it gives a value (not None); fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(_WAIT_POLL_SECONDS)  # noqa: TID251 - a synchronous helper polling other processes
    raise AssertionError(f"not within {seconds:.0f} s: {what}")


def lease_holder(db_url: str, session_id: str, workers: list[CorralProcess], seconds: float) -> CorralProcess:
    """The live process among ``workers`` whose lease the session is under (waited for, up to ``seconds``), read
    from the PostgreSQL database at ``db_url``."""

    async def owner() -> str | None:
        connection = await asyncpg.connect(db_url)
        try:
            value = await connection.fetchval("SELECT lease_owner FROM sessions WHERE id = $1", session_id)
        finally:
            await connection.close()
        return None if value is None else str(value)

    pid = int(wait_until(lambda: anyio.run(owner), f"a worker holds {session_id}", seconds).split(":")[1])
    return next(worker for worker in workers if worker.alive and worker.pid == pid)
