"""One live local sandbox: its process, agent channel and cgroups, and how a call becomes a ``ToolResult``.

Invariants (on top of ``Sandbox``'s): a call never outlives the sandbox's wall-clock limit (past it the
sandbox is stopped); anything the agent sends is validated before it becomes a result; when the process is
gone every waiting call gets an error naming the cause (out of memory, stopped by corral, or exited), then
the cgroups are removed and the egress channel closed; ``alive`` is False from the moment the channel closes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import cast

import anyio
import anyio.to_thread
from anyio.abc import Process

from corral._types import JSONObject
from corral.observe import metrics
from corral.sandbox.base import ProvisionNotice, ProvisionSpec, Sandbox, ToolResult
from corral.sandbox.journal import ToolJournal
from corral.sandbox.local.cgroups import Cgroups
from corral.sandbox.local.channel import AgentChannel
from corral.sandbox.local.launch import Plan
from corral.sandbox.local.workspace import Workspace
from corral.vocab.tools import BASH, SANDBOX_TOOLS, SandboxToolName, bash_timeout, is_sandbox_tool

log = logging.getLogger("corral.sandbox.local")
_BLOCK_TYPES = frozenset({"text", "image", "document"})
_WALL_GRACE_SECONDS = 5.0  # the agent enforces bash timeouts itself; the host steps in only past this
_STOP_ROUNDS = 2500  # about 5 s of killing a fork storm before the shell restarts anyway
_FRESH = "the next call starts a fresh sandbox with the same /workspace"
_MiB = 1024 * 1024


@dataclass
class Parts:
    """What the starter assembled for the sandbox, and what it cleans up afterwards."""

    plan: Plan
    process: Process
    channel: AgentChannel
    cgroups: Cgroups
    #: the directory behind ``/workspace`` (``plan.workspace`` until a warm sandbox is claimed and it is renamed)
    workspace: Workspace
    cleanup: Callable[[], Awaitable[None]]
    #: what its egress channel told about the session's credentials (``Sandbox.notices``)
    notices: tuple[ProvisionNotice, ...] = ()


def _children(pid: int) -> set[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return {int(child) for child in f.read().split()}
    except OSError:
        return set()


def _start_time(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 1 << 62


def _block(value: object) -> JSONObject | None:
    if not isinstance(value, dict):
        return None
    block = cast(JSONObject, value)  # parsed JSON: its keys are strings
    return block if block.get("type") in _BLOCK_TYPES else None


def _valid(reply: JSONObject) -> ToolResult | None:
    content: object = reply.get("content")
    is_error: object = reply.get("is_error", False)
    if not isinstance(content, list) or not content or not isinstance(is_error, bool):
        return None
    blocks = [_block(item) for item in cast("list[object]", content)]  # parsed JSON, checked item by item
    valid = [block for block in blocks if block is not None]
    return ToolResult(valid, is_error) if len(valid) == len(blocks) else None


@dataclass
class _State:
    last_used: float = field(default_factory=time.monotonic)
    busy: int = 0
    stop_reason: str | None = None
    oom_kills: int = 0
    pids_refusals: int = 0
    exit_status: int | None = None
    stderr_tail: bytes = b""


class LocalSandbox(Sandbox):
    def __init__(self, session_id: str, spec: ProvisionSpec, parts: Parts, journal: ToolJournal) -> None:
        self.session_id = session_id
        self.spec = spec
        self.parts = parts
        self.name = parts.plan.name
        self.notices = parts.notices
        self._journal = journal
        self._state = _State()
        self._stderr_done = anyio.Event()
        self.stopped = anyio.Event()

    @property
    def alive(self) -> bool:
        return not self.parts.channel.closed.is_set()

    @property
    def idle_for(self) -> float:
        return 0.0 if self._state.busy else time.monotonic() - self._state.last_used

    def claim(self, session_id: str, spec: ProvisionSpec) -> None:
        """A warm sandbox now belongs to ``session_id``."""
        self.session_id, self.spec = session_id, spec
        self._state.last_used = time.monotonic()

    async def run(self) -> None:
        """Serve the channel until the process ends, then record why and clean up."""
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._serve_channel)
            tasks.start_soon(self._drain_stderr)
            self._state.exit_status = await self.parts.process.wait()
            self.parts.channel.close()
            with anyio.move_on_after(1):
                await self._stderr_done.wait()
            tasks.cancel_scope.cancel()
        with anyio.CancelScope(shield=True):
            try:
                self._state.oom_kills = await anyio.to_thread.run_sync(self.parts.cgroups.oom_kills)
                await self.parts.cleanup()
            except Exception:  # a failed cleanup must not take the provider (and every other sandbox) down
                log.exception("cleaning up sandbox %s failed", self.name)
            finally:
                self.stopped.set()

    async def _serve_channel(self) -> None:
        """The channel ends when the agent exits or breaks the protocol; either way the sandbox is done."""
        await self.parts.channel.serve()
        if self.parts.process.returncode is None:
            with anyio.move_on_after(0.5):
                await self.parts.process.wait()
        if self.parts.process.returncode is None:
            self._kill("its agent broke the protocol")

    async def _drain_stderr(self) -> None:
        stream = self.parts.process.stderr
        assert stream is not None
        try:
            async for chunk in stream:
                self._state.stderr_tail = (self._state.stderr_tail + chunk)[-2000:]
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        self._stderr_done.set()

    def _kill(self, reason: str) -> None:
        """Stop the process; ``reason`` is recorded only if it was still running (a death keeps its own)."""
        if self.parts.process.returncode is not None or self.stopped.is_set():
            return
        if self._state.stop_reason is None:
            self._state.stop_reason = reason
        try:
            self.parts.process.kill()
        except ProcessLookupError:
            pass  # it exited in the meantime

    async def stop(self, reason: str) -> None:
        self._kill(reason)
        await self.stopped.wait()

    async def release(self) -> None:
        await self.stop("it was released")

    async def execute(self, name: str, input: JSONObject, tool_use_id: str) -> ToolResult:
        return await self._journal.run_once(self.session_id, tool_use_id, name, partial(self._execute, name, input))

    async def _execute(self, name: str, tool_input: JSONObject) -> ToolResult:
        if not is_sandbox_tool(name):
            return ToolResult.error(f"{name}: not a sandbox tool (sandbox tools: {', '.join(SANDBOX_TOOLS)})")
        if not self.alive:
            return ToolResult.error(f"{name}: sandbox: {self._death()}")
        self._state.busy += 1
        try:
            return await self._call(name, tool_input)
        finally:
            self._state.busy -= 1
            self._state.last_used = time.monotonic()

    async def _call(self, name: SandboxToolName, tool_input: JSONObject) -> ToolResult:
        wall = self.spec.limits.wall_seconds
        timeout = bash_timeout(tool_input, wall) if name == BASH else wall
        with anyio.move_on_after(wall + _WALL_GRACE_SECONDS):
            reply = await self.parts.channel.call(name, tool_input, timeout)
            if reply is None:
                await self._settle()
                return ToolResult.error(f"{name}: sandbox: {self._death()}")
            result = _valid(reply)
            if result is None:
                await self.stop("it sent a malformed reply")
                return ToolResult.error(f"{name}: sandbox: {self._death()}")
            return await self._after_bash(result) if name == BASH else result
        await self.stop(f"the call exceeded the {wall:g} s wall-clock limit")
        return ToolResult.error(f"{name}: sandbox: {self._death()}")

    async def _settle(self) -> None:
        with anyio.move_on_after(5):
            await self.stopped.wait()

    async def _after_bash(self, result: ToolResult) -> ToolResult:
        """Say when a limit struck during the call; after a fork storm, stop every process but the agent."""
        kills, refusals = await anyio.to_thread.run_sync(self.parts.cgroups.counters)
        notes: list[str] = []
        if kills > self._state.oom_kills:
            limit = self.spec.limits.memory_bytes // _MiB
            metrics.oom_kills.inc(kills - self._state.oom_kills)
            log.warning("sandbox %s: OOM kill: a process exceeded the %d MiB memory limit", self.name, limit)
            notes.append(f"[sandbox: a process was killed for exceeding the {limit} MiB memory limit]")
        if refusals > self._state.pids_refusals:
            await self._stop_user_processes()
            await self.parts.channel.call(BASH, {"restart": True}, 10.0)
            kills, refusals = await anyio.to_thread.run_sync(self.parts.cgroups.counters)
            notes.append(
                f"[sandbox: the limit of {self.spec.limits.pids} processes was reached; every process in the "
                "sandbox was stopped and the shell restarted (working directory and variables are reset)]"
            )
        self._state.oom_kills, self._state.pids_refusals = kills, refusals
        if not notes:
            return result
        return ToolResult([*result.content, *({"type": "text", "text": n} for n in notes)], True)

    async def _stop_user_processes(self) -> None:
        """Kill everything in the sandbox but bwrap, its init and the agent (init's first child).

        A fork storm forks while it is being killed, and its orphans linger as zombies until init reaps
        them, so one pass is not enough: this repeats until only the kept processes are left."""
        keep, inits = await anyio.to_thread.run_sync(self._kept_processes)
        for _ in range(_STOP_ROUNDS):
            if await anyio.to_thread.run_sync(self._kill_pass, keep, inits):
                return
            await anyio.sleep(0.002)

    def _kept_processes(self) -> tuple[set[int], set[int]]:
        bwrap = self.parts.process.pid
        keep = {bwrap, *_children(bwrap)}
        inits = keep - {bwrap}
        children = [child for init in inits for child in _children(init)]
        if children:
            keep.add(min(children, key=_start_time))
        return keep, inits

    def _kill_pass(self, keep: set[int], inits: set[int]) -> bool:
        """One round of killing (blocking); True once nothing but ``keep`` is left."""
        killed = self.parts.cgroups.kill_all_but(keep)
        return not killed and all(_children(init) <= keep for init in inits)

    def _death(self) -> str:
        reason = self._death_reason()
        log.warning("sandbox %s died: %s", self.name, reason)
        return reason

    def _death_reason(self) -> str:
        state = self._state
        if state.stop_reason is not None:
            return f"the sandbox was stopped ({state.stop_reason}); {_FRESH}"
        if state.oom_kills:
            limit = self.spec.limits.memory_bytes // _MiB
            return f"the sandbox ran out of memory (limit {limit} MiB) and stopped; {_FRESH}"
        detail = state.stderr_tail.decode(errors="replace").strip().replace("\x00", "")[-500:]
        status = "killed" if state.exit_status is None else f"exit status {state.exit_status}"
        return f"the sandbox stopped unexpectedly ({status}{': ' + detail if detail else ''}); {_FRESH}"
