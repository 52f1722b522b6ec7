"""A real ``corral sandbox-host`` process on loopback, for tests of the remote provider.

``LiveSandboxHost(db_url, data_dir, token).start()`` runs ``python -m corral sandbox-host`` with a scrubbed
environment (``tests.live.scrubbed_env``) plus the database, data dir, token and ``env``; it returns once
``GET /healthz`` answers 200, i.e. the host is registered in the directory. ``kill()`` is a SIGKILL (a crash);
``stop()`` a SIGTERM; ``paused()`` holds the process stopped (SIGSTOP … SIGCONT): its sockets still accept
connections, nothing answers, as a host that stalls. The host's id is read from its data dir.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from corral.compose.hosts import ID_FILE
from tests.live import free_port, scrubbed_env


@dataclass
class LiveSandboxHost:
    db_url: str
    data_dir: Path
    token: str
    env: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    port: int = field(default_factory=free_port)
    start_timeout: float = 60.0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host_id(self) -> str:
        return (self.data_dir / ID_FILE).read_text().strip()

    @property
    def log_path(self) -> Path:
        return self.data_dir / "sandbox-host.log"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = scrubbed_env(
            {
                "CORRAL_DATABASE_URL": self.db_url,
                "CORRAL_DATA_DIR": str(self.data_dir),
                "CORRAL_SANDBOX_HOST_TOKEN": self.token,
                "CORRAL_EGRESS": "0",
                **self.env,
            }
        )
        command = [sys.executable, "-m", "corral", "sandbox-host", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError(f"corral sandbox-host exited during startup:\n{self.log_tail()}")
                try:
                    if http.get(f"{self.url}/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)  # noqa: TID251 - a synchronous helper polling another process
        self.kill()
        raise RuntimeError(f"corral sandbox-host was not ready after {self.start_timeout}s:\n{self.log_tail()}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    @contextmanager
    def paused(self) -> Generator[None]:
        assert self.process is not None and self.process.poll() is None
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
