"""Running ``child.py`` as real OS processes and reading what they report, line by line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

CHILD = Path(__file__).with_name("child.py")
LIMIT = 60  # seconds: generous, so that a loaded CI machine never fails a test by slowness alone


class Child:
    def __init__(self, process: Process, stderr: Path):
        self.process = process
        self._stderr = stderr
        assert process.stdout is not None
        self._stdout = BufferedByteReceiveStream(process.stdout)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def line(self) -> str:
        """The next line the child printed ("" once it closed its stdout)."""
        with anyio.fail_after(LIMIT):
            try:
                return (await self._stdout.receive_until(b"\n", 1 << 20)).decode()
            except (anyio.EndOfStream, anyio.IncompleteRead):
                return ""

    async def lines(self) -> list[str]:
        """Every remaining line, until the child closes its stdout."""
        found: list[str] = []
        with anyio.fail_after(LIMIT):
            while line := await self.line():
                found.append(line)
        return found

    async def expect(self, word: str) -> list[str]:
        """Read lines until one starts with ``word``; return its fields."""
        while True:
            line = await self.line()
            assert line, f"child ended before {word!r}; stderr:\n{self.stderr()}"
            fields = line.split()
            if fields[0] == word:
                return fields

    async def send(self, line: str) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(line.encode() + b"\n")

    def signal(self, sig: signal.Signals) -> None:
        os.kill(self.pid, sig)

    async def wait(self) -> int:
        with anyio.fail_after(LIMIT):
            return await self.process.wait()

    async def succeed(self) -> None:
        code = await self.wait()
        assert code == 0, f"child exited with {code}; stderr:\n{self.stderr()}"

    def stderr(self) -> str:
        return self._stderr.read_text(errors="replace") if self._stderr.exists() else ""


@asynccontextmanager
async def children(tmp_path: Path, argvs: list[list[str]]) -> AsyncGenerator[list[Child]]:
    """Start several children with ``--wait``; once all of them are open, tell them all to go at once."""
    async with AsyncExitStack() as stack:
        started = [await stack.enter_async_context(child(tmp_path, *argv, "--wait")) for argv in argvs]
        for proc in started:
            await proc.expect("open")
        for proc in started:
            await proc.send("go")
        yield started


@asynccontextmanager
async def child(tmp_path: Path, *args: str) -> AsyncGenerator[Child]:
    """Start ``child.py *args``; on exit make sure it is gone (SIGCONT + SIGKILL if still running)."""
    stderr = tmp_path / f"child-{os.urandom(4).hex()}.err"
    with stderr.open("wb") as err:
        process = await anyio.open_process(
            [sys.executable, str(CHILD), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err
        )
    try:
        yield Child(process, stderr)
    finally:
        if process.returncode is None:
            for sig in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.kill(process.pid, sig)
                except ProcessLookupError:
                    pass
        with anyio.move_on_after(10, shield=True):
            await process.wait()
        await process.aclose()
