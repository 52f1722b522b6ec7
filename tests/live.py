"""A real ``corral serve`` process on loopback, for tests that drive corral from the outside.

Usage::

    from tests.live import live_server

    with live_server("sqlite:////tmp/x/corral.db", env={"CORRAL_WORKERS": "0"}) as server:
        base_url, api_key = server                     # a LiveServer also unpacks to these two
        client = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0)
        ...
        server.kill()                                  # SIGKILL: a crash, nothing flushed or closed
        server.start()                                 # the same database, data dir, port and key
        other_key = server.create_key("other")         # `corral keys create` against the same database

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

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

_SCRUBBED_PREFIXES = ("CORRAL_", "ANTHROPIC_", "OPENAI_")
_SCRUBBED = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrubbed_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without ``CORRAL_*``, ``ANTHROPIC_*``, ``OPENAI_*`` and proxy settings, plus
    ``extra``: what a corral process the tests start sees."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES) and k not in _SCRUBBED}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class LiveServer:
    db_url: str
    data_dir: Path
    env: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    api_key: str = field(default_factory=lambda: "sk-corral-test-" + secrets.token_urlsafe(24))
    port: int = field(default_factory=free_port)
    start_timeout: float = 60.0
    stop_timeout: float = 10.0
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def __iter__(self) -> Iterator[str]:
        yield self.base_url
        yield self.api_key

    def server_env(self) -> dict[str, str]:
        return scrubbed_env(
            {
                "CORRAL_DATABASE_URL": self.db_url,
                "CORRAL_DATA_DIR": str(self.data_dir),
                "CORRAL_API_KEY": self.api_key,
                **self.env,
            }
        )

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the server is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "corral", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, env=self.server_env(), stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError(f"corral serve exited during startup:\n{self.log_tail()}")
                try:
                    if http.get(f"{self.base_url}/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)  # noqa: TID251 - a synchronous helper polling another process
        self.kill()
        raise RuntimeError(f"corral serve was not ready after {self.start_timeout}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL, like a crash: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """Graceful shutdown (SIGTERM), falling back to SIGKILL."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_key(self, workspace: str = "default") -> str:
        """A new API key of ``workspace`` (created if needed), made by ``corral keys create``."""
        result = subprocess.run(
            [sys.executable, "-m", "corral", "keys", "create", "--workspace", workspace],
            env=self.server_env(),
            capture_output=True,
            check=True,
            timeout=60,
        )
        return result.stdout.decode().strip().splitlines()[-1]

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


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
