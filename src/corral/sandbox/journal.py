"""Exactly-once tool calls: a journal keyed by ``(session_id, tool_use_id)``, kept outside every sandbox.

Layout under ``root``: ``<session>/<tool_use_id>.started`` is created (exclusively) before a call runs, and
``<session>/<tool_use_id>.json`` holds its result once it finished. So:

* a call with a result returns that result and does not run again;
* a call that started but has no result, and is not running in this process, was interrupted (its sandbox
  or worker died mid-call): it is answered with an ``interrupted`` error, which is then recorded, and it is
  never run again, because its side effects may have happened;
* the same call arriving twice while it runs waits for the one execution.

Invariants: the journal lives beside the workspaces, never inside a sandbox, so it survives sandboxes,
re-provisioning and a crash of the process (files are written but not fsynced: the page cache outlives a
killed process, and a machine crash loses the sandbox state too); file I/O runs in worker threads.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import anyio.to_thread

from corral.sandbox.base import ToolResult

_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


def safe_name(value: str) -> str:
    """A file name for an id: the id itself when it is plain, else a digest of it."""
    return value if _SAFE.match(value) else "h" + hashlib.sha256(value.encode()).hexdigest()[:40]


def interrupted(name: str) -> ToolResult:
    return ToolResult.error(
        f"{name}: interrupted: this call started but never finished (its sandbox or worker stopped), "
        "so it was not run again; check its effects before retrying"
    )


def _dump(result: ToolResult) -> str:
    return json.dumps({"content": result.content, "is_error": result.is_error})


def _load(raw: str) -> ToolResult:
    data = json.loads(raw)
    return ToolResult(list(data["content"]), bool(data["is_error"]))


class _Flight:
    def __init__(self) -> None:
        self.done = anyio.Event()
        self.result: ToolResult | None = None


class ToolJournal:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._flights: dict[tuple[str, str], _Flight] = {}

    def _paths(self, session_id: str, tool_use_id: str) -> tuple[Path, Path]:
        base = self.root / safe_name(session_id) / safe_name(tool_use_id)
        return base.with_suffix(".started"), base.with_suffix(".json")

    async def recorded(self, session_id: str, tool_use_id: str) -> ToolResult | None:
        """The call's result; ``interrupted`` if it started and is not running here; None if it never started."""
        if (session_id, tool_use_id) in self._flights:
            return None
        return await anyio.to_thread.run_sync(self._settled, session_id, tool_use_id)

    async def run_once(
        self, session_id: str, tool_use_id: str, name: str, run: Callable[[], Awaitable[ToolResult]]
    ) -> ToolResult:
        key = (session_id, tool_use_id)
        if (flight := self._flights.get(key)) is not None:
            await flight.done.wait()
            return flight.result or interrupted(name)
        flight = self._flights[key] = _Flight()
        try:
            earlier = await anyio.to_thread.run_sync(self._claim, session_id, tool_use_id, name)
            flight.result = earlier if earlier is not None else await run()
            if earlier is None:
                await anyio.to_thread.run_sync(self._record, session_id, tool_use_id, flight.result)
            return flight.result
        finally:
            del self._flights[key]
            flight.done.set()

    async def forget(self, session_id: str) -> None:
        await anyio.to_thread.run_sync(shutil.rmtree, self.root / safe_name(session_id), True)

    def _settled(self, session_id: str, tool_use_id: str) -> ToolResult | None:
        started, result = self._paths(session_id, tool_use_id)
        try:
            return _load(result.read_text())
        except FileNotFoundError:
            pass
        try:
            name = started.read_text() or "tool"
        except FileNotFoundError:
            return None
        answer = interrupted(name)
        self._record(session_id, tool_use_id, answer)
        return answer

    def _claim(self, session_id: str, tool_use_id: str, name: str) -> ToolResult | None:
        """None when this process may run the call (the start is now journalled), else its settled result."""
        started, _ = self._paths(session_id, tool_use_id)
        started.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(started, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self._settled(session_id, tool_use_id)
        with os.fdopen(fd, "w") as f:
            f.write(name)
        return None

    def _record(self, session_id: str, tool_use_id: str, result: ToolResult) -> None:
        _, final = self._paths(session_id, tool_use_id)
        partial = final.with_suffix(".partial")
        partial.write_text(_dump(result))
        os.replace(partial, final)
