"""Real processes the suites run against: the scripted model server and ``corral serve`` / ``corral worker``.

Invariants:

* Children get an explicit environment (nothing inherited but what is listed), so a developer's shell cannot
  change a benchmark; they run this interpreter (``sys.executable -m …``).
* Every child is stopped by ``aclose`` (SIGTERM, then SIGKILL after a grace period), whatever happened.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
from pathlib import Path

import anyio
import httpx
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from corral._types import JSONObject

BIN_PATH = f"{Path(sys.executable).parent}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Child:
    """A child process with a line-buffered stdout."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None, log: Path | None = None):
        self.command, self.env, self.log = command, env, log
        self.process: Process | None = None
        self.stdout: BufferedByteReceiveStream | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        if self.log is None:
            self.process = await anyio.open_process(self.command, env=self.env, stderr=None)
        else:
            with self.log.open("ab") as log:
                self.process = await anyio.open_process(self.command, env=self.env, stderr=log)
        assert self.process.stdout is not None
        self.stdout = BufferedByteReceiveStream(self.process.stdout)

    async def line(self) -> str:
        assert self.stdout is not None
        return (await self.stdout.receive_until(b"\n", 1 << 20)).decode(errors="replace").strip()

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)

    async def aclose(self) -> None:
        if self.process is None:
            return
        if self.process.returncode is None:
            self.process.terminate()
            with anyio.move_on_after(10):
                await self.process.wait()
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        await self.process.aclose()
        self.process = None


class ModelServer(Child):
    """``python -m corral.testing`` (the scripted model server); ``url`` once started; ``set_script`` swaps it."""

    def __init__(self, script: JSONObject, directory: Path):
        self.path = directory / f"model-script-{free_port()}.json"
        self.path.write_text(json.dumps(script))
        command = [sys.executable, "-m", "corral.testing", "--script", str(self.path), "--host", "127.0.0.1"]
        super().__init__(command, log=directory / "model-server.log")
        self.url = ""

    async def start(self) -> None:
        await super().start()
        with anyio.fail_after(60):
            self.url = (await self.line()).removeprefix("listening ").strip()

    async def set_script(self, script: JSONObject) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            (await client.put(self.url + "/_scripted/script", json=script)).raise_for_status()


def corral_env(data_dir: Path, model_url: str, **extra: str) -> dict[str, str]:
    """The whole environment of a ``corral`` child: its data dir, the scripted model as the Anthropic provider."""
    env = {
        "PATH": BIN_PATH,
        "HOME": str(data_dir),
        "LANG": "C.UTF-8",
        "CORRAL_DATA_DIR": str(data_dir),
        "ANTHROPIC_BASE_URL": model_url,
        "ANTHROPIC_API_KEY": "bench",
        "CORRAL_EGRESS": "0",
    }
    env.update(extra)
    return env


def rss_kib(pid: int) -> int:
    """Resident memory of a process (``VmRSS``), in KiB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class CorralServe(Child):
    """``python -m corral serve`` on a free port; ``key`` is the API key it prints on first start."""

    def __init__(self, env: dict[str, str], log: Path):
        self.port = free_port()
        env = {**env, "CORRAL_HOST": "127.0.0.1", "CORRAL_PORT": str(self.port)}
        super().__init__([sys.executable, "-m", "corral", "serve"], env, log)
        self.key = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        await super().start()
        with anyio.fail_after(120):
            while not self.key:
                line = await self.line()
                if line.startswith("sk-"):
                    self.key = line
            async with httpx.AsyncClient() as client:
                for _ in range(1200):
                    try:
                        if (await client.get(self.url + "/healthz")).status_code == 200:
                            return
                    except httpx.HTTPError:
                        pass
                    await anyio.sleep(0.1)
