"""Worker processes for crash tests: real ``corral worker`` and ``tests.harness.crash_worker`` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.abc import Process

from tests.harness.helpers import eventually
from tests.live import scrubbed_env


@dataclass
class WorkerProcess:
    process: Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def ready(self, wait: float = 180.0) -> None:
        """Wait until the worker says it runs (imports are slow on a loaded machine)."""

        def started() -> bool:
            if self.process.returncode is not None:
                raise RuntimeError(f"worker {self.pid} exited early:\n{self.text()[-3000:]}")
            return "ready" in self.text() or "running" in self.text()

        await eventually(started, wait)

    def send(self, signum: int) -> None:
        if self.process.returncode is None:
            os.kill(self.pid, signum)

    def stopped(self) -> bool:
        """True while the process is stopped (SIGSTOP), from /proc."""
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state in ("T", "t")

    async def kill(self) -> None:
        self.send(signal.SIGKILL)
        await self.process.wait()
        await self.process.aclose()

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.send(signal.SIGCONT)
            self.send(signal.SIGTERM)
            with anyio.move_on_after(20):
                await self.process.wait()
            if self.process.returncode is None:
                await self.kill()
        await self.process.aclose()


async def start_worker(args: list[str], env: Mapping[str, str], log: Path) -> WorkerProcess:
    with log.open("ab") as out:
        command = [sys.executable, *args]
        process = await anyio.open_process(
            command, env=scrubbed_env(env), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    return WorkerProcess(process, log)
