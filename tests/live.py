"""A real ``corral serve`` process on loopback, for tests that drive corral from the outside.

Usage::

    from tests.live import live_server

    with live_server("sqlite:////tmp/x/corral.db", env={"CORRAL_WORKERS": "0"}) as server:
        base_url, api_key = server                     # a LiveServer also unpacks to these two
        client = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0)
        ...
        server.kill()                                  # SIGKILL: a crash, nothing flushed or closed
        server.start()                                 # the same database, data dir, port and key
        other_key = server.create_key("other")         # a key of workspace "other" (created if needed)

What it guarantees:

* The process runs ``python -m corral serve`` with a scrubbed environment: nothing ``CORRAL_*``,
  ``ANTHROPIC_*``, ``OPENAI_*`` or proxy-related leaks in from the test process; what the server sees is
  ``CORRAL_DATABASE_URL``, ``CORRAL_DATA_DIR``, ``CORRAL_API_KEY`` (a fresh random admin key of the default
  workspace) plus ``env``. Pass e.g. ``{"ANTHROPIC_BASE_URL": model_server_url}`` to point it at a scripted
  model server, or ``{"CORRAL_WORKERS": "0"}`` for an API-only server.
* ``start()`` returns only once ``GET /healthz`` answers 200 (the database is open and migrated); if the process
  dies first, it raises with the tail of the server's log (``server.log_path``, stdout and stderr together).
* Leaving the ``with`` block stops the server (SIGTERM, then SIGKILL after ``stop_timeout``), whatever happened.
"""

from __future__ import annotations

import functools
import secrets
import subprocess
import sys
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from corral.testing.processes import CorralProcess, free_port, healthz, scrubbed_env

__all__ = ["LiveServer", "free_port", "live_server", "scrubbed_env"]


@dataclass
class LiveServer:
    db_url: str
    data_dir: Path
    env: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    api_key: str = field(default_factory=lambda: "sk-corral-test-" + secrets.token_urlsafe(24))
    port: int = field(default_factory=free_port)
    #: an upper bound, not a wait: importing corral alone takes half a minute when the machine is busy
    start_timeout: float = 240.0
    stop_timeout: float = 10.0
    runner: CorralProcess | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return None if self.runner is None else self.runner.process

    def __iter__(self) -> Iterator[str]:
        yield self.base_url
        yield self.api_key

    def server_env(self) -> dict[str, str]:
        return scrubbed_env(
            {
                "CORRAL_DATABASE_URL": self.db_url,
                "CORRAL_DATA_DIR": str(self.data_dir),
                "CORRAL_API_KEY": self.api_key,
                # no request-rate limits unless a test sets them: the suite's workspace keys make bursts of requests
                "CORRAL_RATE_WRITES_PER_MINUTE": "0",
                "CORRAL_RATE_READS_PER_MINUTE": "0",
                **self.env,
            }
        )

    def start(self) -> None:
        if self.runner is None:
            args = ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
            readiness = functools.partial(healthz, self.base_url)
            self.runner = CorralProcess(
                args, {}, self.log_path, readiness, start_timeout=self.start_timeout, stop_timeout=self.stop_timeout
            )
        self.runner.env = self.server_env()  # read at each start: a test may change ``env`` between runs
        self.runner.start()

    def kill(self) -> None:
        """SIGKILL, like a crash: no shutdown code runs."""
        if self.runner is not None:
            self.runner.kill()

    def stop(self) -> None:
        """Graceful shutdown (SIGTERM), falling back to SIGKILL."""
        if self.runner is not None:
            self.runner.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_key(self, workspace: str = "default") -> str:
        """A new API key of ``workspace`` (created if needed): through the admin route ``POST /v1/corral/keys``
        while the server runs (what ``corral keys create`` does, ``catalog.issue_key``, without starting another
        Python process), else by ``corral keys create`` against the database."""
        if self.runner is not None and self.runner.alive:
            with httpx.Client(base_url=self.base_url, headers={"x-api-key": self.api_key}, trust_env=False) as http:
                made = http.post("/v1/corral/keys", json={"workspace": workspace}, timeout=60)
            made.raise_for_status()
            return str(made.json()["secret"])
        result = subprocess.run(
            [sys.executable, "-m", "corral", "keys", "create", "--workspace", workspace],
            env=self.server_env(),
            capture_output=True,
            check=True,
            timeout=60,
        )
        return result.stdout.decode().strip().splitlines()[-1]

    def log_tail(self, lines: int = 60) -> str:
        if self.runner is None:
            return "(no log)"
        return self.runner.log_tail(lines)


@contextmanager
def live_server(
    db_url: str, *, data_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> Generator[LiveServer]:
    """Start ``corral serve`` on ``db_url``; yields the running ``LiveServer`` and stops it afterwards.

    ``data_dir`` defaults to a fresh temporary directory (removed afterwards).
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="corral-live-") as scratch:
        server = LiveServer(db_url=db_url, data_dir=data_dir or Path(scratch), env=dict(env or {}))
        try:
            server.start()
            yield server
        finally:
            server.stop()
