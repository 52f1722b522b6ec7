"""The ``memory`` suite: what a memory store mounted in a session's sandbox costs (issue 11's target: a memory
write from the sandbox is a stored version in < 50 ms p50).

One arm, ``write-back``, on SQLite in the run's scratch directory (the embedded default) and the real local
sandbox provider: a session whose document attaches one ``read_write`` store holding ``memories`` memories
(a small, realistic store: the write-back walks all of them), run through the harness's ``Hands`` with
``MemoryAttachments`` as a worker runs it. Two calls, interleaved (``interleave``):

* ``stored``: the ``write`` tool puts new content into one memory's file under ``/mnt/memory/<slug>/``; timed from
  the call to its return, which is after ``after_call`` wrote it back: the version is stored when the call
  returns;
* ``unchanged``: ``bash true``: a call that changes nothing, so its time is the sandbox round trip plus what the
  mount adds to every call (a query of the store's heads before it, a walk of the copy by stamps after it).

Invariants: after every ``write`` the memory's head holds exactly what was written, by the session (its
``session_actor``), or the arm fails; the sandbox, provider and database are closed before the arm returns. The
arm is "not measured" only when the local provider cannot start here.
"""

from __future__ import annotations

import itertools
import time
from contextlib import AsyncExitStack

from corral.bench.measure import Call, add_latency, add_value, interleave
from corral.bench.results import Arm, SuiteResult
from corral.bench.suite import Context, Suite
from corral.config import Settings
from corral.db.engines import open_database
from corral.errors import SandboxError
from corral.memory import MemoryStores
from corral.memory.params import MemoryCreate, StoreCreate
from corral.resources.memory import MemoryAttachments
from corral.sandbox.hands import Hands
from corral.sandbox.local.provider import LocalSandboxProvider
from corral.sandbox.recipe import Environments
from corral.session import NewSession, SessionStore
from corral.vocab.tools import BASH, WRITE

WORKSPACE = "wrkspc_benchmemory"
_ids = itertools.count(1)


async def _store(memory: MemoryStores, count: int) -> str:
    store = await memory.create_store(WORKSPACE, StoreCreate(name="bench", description="benchmark notes"))
    for index in range(count):
        path = f"/topics/{index % 10}/note-{index:04d}.md"
        await memory.create_memory(WORKSPACE, store.id, MemoryCreate(path=path, content=f"note {index}\n" * 20), None)
    return store.id


async def _session(sessions: SessionStore, store_id: str) -> str:
    resource = {
        "type": "memory_store",
        "memory_store_id": store_id,
        "access": "read_write",
        "name": "bench",
        "mount_path": "/mnt/memory/bench",
    }
    new = NewSession(WORKSPACE, "agent_benchmemory", 1, "env_benchmemory", {"resources": [resource]}, [])
    record, _ = await sessions.create_session(new)
    return record.id


def _calls(hands: Hands, memory: MemoryStores, store_id: str, per_round: int) -> dict[str, Call]:
    async def write() -> list[float]:
        times: list[float] = []
        for _ in range(per_round):
            content = f"written {next(_ids)}\n"
            tool_input: dict[str, object] = {"file_path": "/mnt/memory/bench/topics/0/note-0000.md", "content": content}
            began = time.perf_counter()
            result = await hands.execute(WRITE, tool_input, f"toolu_benchmem{next(_ids):08d}")
            times.append(time.perf_counter() - began)
            if result.is_error:
                raise RuntimeError(f"the write failed: {result.content}")
            await _expect(memory, store_id, hands.session_id, content)
        return times

    async def unchanged() -> list[float]:
        times: list[float] = []
        for _ in range(per_round):
            began = time.perf_counter()
            result = await hands.execute(BASH, {"command": "true"}, f"toolu_benchmem{next(_ids):08d}")
            times.append(time.perf_counter() - began)
            if result.is_error:
                raise RuntimeError(f"bash true failed: {result.content}")
        return times

    return {"stored": write, "unchanged": unchanged}


async def _expect(memory: MemoryStores, store_id: str, session_id: str, content: str) -> None:
    _, memories = await memory.tree(WORKSPACE, store_id)
    (head,) = [m for m in memories if m.path == "/topics/0/note-0000.md"]
    version = await memory.get_version(WORKSPACE, store_id, head.version_id)
    author = version.created_by
    if head.content != content or author is None or (author.type, author.id) != ("session_actor", session_id):
        raise RuntimeError("a write from the sandbox is not the stored head by the session")


async def measure(ctx: Context, arm: Arm) -> None:
    rounds, per_round = ctx.pick("memory.rounds", 10, 50), ctx.pick("memory.calls", 5, 10)
    count = ctx.pick("memory.memories", 100, 100)
    async with AsyncExitStack() as stack:
        db = open_database(f"sqlite:///{ctx.scratch / 'memory.db'}")
        await db.open()
        stack.push_async_callback(db.close)
        sessions, memory = SessionStore(db), MemoryStores(db)
        stack.push_async_callback(sessions.aclose)
        try:
            provider = await stack.enter_async_context(
                LocalSandboxProvider(Settings(data_dir=ctx.scratch / "memory-data", egress_enabled=False))
            )
        except SandboxError as exc:
            arm.not_measured(f"the local sandbox provider cannot start here: {exc.message}")
            return
        store_id = await _store(memory, count)
        session_id = await _session(sessions, store_id)
        attachments = MemoryAttachments(sessions, memory, provider.mount_root())
        hands = Hands(session_id, provider, Environments(), "lazy", attachments)
        hands.bind(WORKSPACE, "env_benchmemory")
        stack.push_async_callback(hands.release)
        await hands.execute(BASH, {"command": "true"}, "toolu_benchmemwarm")  # provisioned and mounted once
        samples, failed = await interleave(
            ctx, "memory · write-back", _calls(hands, memory, store_id, per_round), rounds
        )
    if failed:
        arm.status = "failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items())
        return
    label = "write tool call → the memory's new version stored (after_call done)"
    add_latency(arm, "stored", label, samples["stored"])
    add_latency(
        arm, "unchanged", "bash true with the store mounted (what the mount adds to every call)", samples["unchanged"]
    )
    add_value(arm, "memories", "memories in the mounted store", count, "")


async def run(ctx: Context, result: SuiteResult) -> None:
    arm = Arm("write-back", "a write to a mounted memory store from the sandbox, until its version is stored")
    result.arms.append(arm)
    await measure(ctx, arm)


SUITE = Suite("memory", "root, bubblewrap (the local sandbox provider) and SQLite", run)
