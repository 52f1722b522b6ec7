"""A real ``corral sandbox-host`` process on loopback, for tests of the remote provider.

``LiveSandboxHost(db_url, data_dir, token).start()`` runs ``python -m corral sandbox-host`` (through
``corral.testing.processes.CorralProcess``) with a scrubbed environment plus the database, data dir, token and
``env``; it returns once ``GET /healthz`` answers 200, i.e. the host is registered in the directory. ``kill()`` is
a SIGKILL (a crash); ``stop()`` a SIGTERM; ``paused()`` holds the process stopped (SIGSTOP … SIGCONT): its sockets
still accept connections, nothing answers, as a host that stalls. The host's id is read from its data dir.
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from corral.compose.hosts import ID_FILE
from corral.testing.processes import CorralProcess, free_port, healthz, scrubbed_env


@dataclass
class LiveSandboxHost:
    db_url: str
    data_dir: Path
    token: str
    env: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    port: int = field(default_factory=free_port)
    start_timeout: float = 60.0
    runner: CorralProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host_id(self) -> str:
        return (self.data_dir / ID_FILE).read_text().strip()

    @property
    def log_path(self) -> Path:
        return self.data_dir / "sandbox-host.log"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return None if self.runner is None else self.runner.process

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.runner is None:
            args = ["sandbox-host", "--host", "127.0.0.1", "--port", str(self.port)]
            readiness = functools.partial(healthz, self.url)
            self.runner = CorralProcess(
                args, {}, self.log_path, readiness, start_timeout=self.start_timeout, stop_timeout=15.0
            )
        self.runner.env = scrubbed_env(
            {
                "CORRAL_DATABASE_URL": self.db_url,
                "CORRAL_DATA_DIR": str(self.data_dir),
                "CORRAL_SANDBOX_HOST_TOKEN": self.token,
                "CORRAL_EGRESS": "0",
                **self.env,
            }
        )
        self.runner.start()

    def kill(self) -> None:
        if self.runner is not None:
            self.runner.kill()

    @contextmanager
    def paused(self) -> Generator[None]:
        assert self.runner is not None
        with self.runner.paused():
            yield

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()

    def log_tail(self, lines: int = 60) -> str:
        return "(no log)" if self.runner is None else self.runner.log_tail(lines)
