"""Memory stores in sessions' sandboxes, end to end on both engines: a real harness drives a scripted model whose
tool calls run in real bubblewrap sandboxes; what the agent writes under ``/mnt/memory/<slug>/`` becomes memory
versions by the session (``session_actor``), the next session reads it, a read-only mount refuses writes at the
filesystem, concurrent sessions never lose an update, deletions and hostile names are handled, and the system
prompt lists the stores."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from corral._types import JSONObject, json_list, json_object
from corral.db import Database
from corral.memory import MemoryStores
from corral.memory.params import MemoryCreate, MemoryUpdate
from corral.memory.writeback import conflict_path
from corral.sandbox.local import LocalSandboxProvider
from corral.session import Event, NewEvent, SessionStore
from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.harness.helpers import eventually, send, user_message, wait_blocked, wait_idle
from tests.memory.mounts import WORKSPACE, harness, memories, new_session, new_store, script, versions
from tests.sandbox.conftest import open_provider

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def store(database: Database) -> AsyncIterator[SessionStore]:
    sessions = SessionStore(database)
    try:
        yield sessions
    finally:
        await sessions.aclose()


@pytest.fixture
def memory(database: Database) -> MemoryStores:
    return MemoryStores(database)


@pytest.fixture(scope="module")
async def provider(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalSandboxProvider]:
    async with open_provider(tmp_path_factory.mktemp("memory-mounts")) as started:
        yield started


def results(events: list[Event]) -> list[tuple[str, bool]]:
    """The text and error flag of each sandbox tool result, in order."""
    found: list[tuple[str, bool]] = []
    for event in events:
        if event.type == "agent.tool_result":
            data = event.data()
            blocks = [json_object(block) or {} for block in json_list(data.get("content")) or []]
            found.append(("".join(str(block.get("text", "")) for block in blocks), bool(data.get("is_error"))))
    return found


def notices(events: list[Event]) -> list[str]:
    errors = [json_object(event.data().get("error")) or {} for event in events if event.type == "session.error"]
    return [str(error["message"]) for error in errors if error.get("type") == "unknown_error"]


def system_of(server: ScriptedModelServer) -> str:
    system = server.requests[-1].body.get("system")
    blocks = json_list(system)
    if blocks is not None:
        return "".join(str((json_object(block) or {}).get("text", "")) for block in blocks)
    return str(system)


async def test_a_session_remembers_what_an_earlier_one_wrote(
    store: SessionStore, memory: MemoryStores, provider: LocalSandboxProvider
) -> None:
    notes = await new_store(memory, "notes")
    first = script(
        reply(tool_use("write", {"file_path": "/mnt/memory/notes/notes.md", "content": "the sky is blue\n"})),
        reply(
            tool_use(
                "bash", {"command": "mkdir -p /mnt/memory/notes/people && echo tea > /mnt/memory/notes/people/ada.md"}
            )
        ),
        reply(text("Noted.")),
    )
    async with ScriptedModelServer(first) as server, harness(store, memory, provider, server):
        session_id = await new_session(store, notes, first=user_message("Remember the sky"))
        events = await wait_idle(store, session_id)
        assert [error for _, error in results(events)] == [False, False]
        assert "## notes" in system_of(server) and "/mnt/memory/notes/" in system_of(server)
        stored = await memories(memory, notes.store_id)
        assert {path: m.content for path, m in stored.items()} == {
            "/notes.md": "the sky is blue\n",
            "/people/ada.md": "tea\n",
        }
        made = await versions(memory, notes.store_id, session_id=session_id)
        assert sorted((v.operation, v.path) for v in made) == [("created", "/notes.md"), ("created", "/people/ada.md")]
        assert all(
            v.created_by is not None and v.created_by.wire() == {"type": "session_actor", "session_id": session_id}
            for v in made
        )

        server.set_script(
            script(reply(tool_use("bash", {"command": "cat /mnt/memory/notes/notes.md"})), reply(text("Blue.")))
        )
        later = await new_session(store, notes, first=user_message("What colour is the sky?"))
        events = await wait_idle(store, later)
        assert results(events) == [("the sky is blue", False)]


async def test_a_read_only_mount_refuses_writes(
    store: SessionStore, memory: MemoryStores, provider: LocalSandboxProvider
) -> None:
    shelf = await new_store(memory, "shelf")
    await memory.create_memory(WORKSPACE, shelf.store_id, MemoryCreate(path="/rules.md", content="be kind"), None)
    read_only = type(shelf)(shelf.store_id, shelf.name, "read_only", "Consult before answering.")
    calls = script(
        reply(tool_use("bash", {"command": "cat /mnt/memory/shelf/rules.md; echo x > /mnt/memory/shelf/new.md"})),
        reply(tool_use("write", {"file_path": "/mnt/memory/shelf/rules.md", "content": "be rude"})),
        reply(text("Could not.")),
    )
    async with ScriptedModelServer(calls) as server, harness(store, memory, provider, server):
        session_id = await new_session(store, read_only, first=user_message("Change the rules"))
        events = await wait_idle(store, session_id)
        system = system_of(server)
    (shell, shell_failed), (written, write_failed) = results(events)
    assert "be kind" in shell and "Read-only file system" in shell and shell_failed
    assert write_failed and written.startswith("write: /mnt/memory/shelf/rules.md: outside the workspace")
    assert "read only" in system and "Consult before answering." in system
    assert {p: m.content for p, m in (await memories(memory, shelf.store_id)).items()} == {"/rules.md": "be kind"}


async def test_concurrent_sessions_never_lose_an_update(
    store: SessionStore, memory: MemoryStores, provider: LocalSandboxProvider
) -> None:
    notes = await new_store(memory, "shared")
    plan = await memory.create_memory(WORKSPACE, notes.store_id, MemoryCreate(path="/plan.md", content="v0"), None)
    await memory.create_memory(WORKSPACE, notes.store_id, MemoryCreate(path="/other.md", content="o0"), None)
    # B's call reads the store, then (told to go on once A is done) writes plan.md and deletes other.md, which A
    # changed meanwhile: both of B's changes are based on what A replaced
    slow = "cd /mnt/memory/shared && cat plan.md && touch /workspace/started"
    slow += " && while [ ! -e /workspace/go ]; do sleep 0.02; done && printf 'from B' > plan.md && rm other.md"
    after = "cd /mnt/memory/shared && cat plan.md other.md && echo && ls"
    b_script = script(
        reply(tool_use("bash", {"command": slow})), reply(tool_use("bash", {"command": after})), reply(text("B."))
    )
    a_script = script(
        reply(tool_use("write", {"file_path": "/mnt/memory/shared/plan.md", "content": "from A"})),
        reply(tool_use("write", {"file_path": "/mnt/memory/shared/other.md", "content": "o1"})),
        reply(text("A.")),
    )
    async with ScriptedModelServer(b_script) as server, harness(store, memory, provider, server):
        b = await new_session(store, notes, first=user_message("Plan, B"))
        await eventually((provider.workspace_path(b) / "started").exists)  # B's call is running
        server.set_script(a_script)  # B's model is not asked again until its call returns
        a = await new_session(store, notes, first=user_message("Plan, A"))
        await wait_idle(store, a)
        server.set_script(b_script)
        (provider.workspace_path(b) / "go").touch()
        events = await wait_idle(store, b)
    copy = conflict_path("/plan.md", b)
    stored = await memories(memory, notes.store_id)
    assert {p: m.content for p, m in stored.items()} == {"/other.md": "o1", "/plan.md": "from A", copy: "from B"}
    assert stored["/plan.md"].id == plan.id  # theirs stays the head: A's write is not overwritten
    everything = await versions(memory, notes.store_id)
    assert sorted((v.path or "", v.content or "") for v in everything if v.path != "/other.md") == sorted(
        [("/plan.md", "v0"), ("/plan.md", "from A"), (copy, "from B")]
    )
    assert [v.created_by.id if v.created_by else None for v in everything if v.content == "from B"] == [b]
    conflict, kept = notices(events)
    assert conflict.startswith("/mnt/memory/shared/plan.md: changed in the store") and copy in conflict
    assert kept.startswith("/mnt/memory/shared/other.md: deleted in the sandbox but changed in the store since")
    # B's mount then shows the store as it is: A's head, B's conflict copy beside it, other.md back
    assert results(events)[-1] == (f"from Ao1\nother.md\nplan.md\n{copy.lstrip('/')}", False)


async def test_a_file_deleted_in_the_sandbox_is_a_deleted_memory(
    store: SessionStore, memory: MemoryStores, provider: LocalSandboxProvider
) -> None:
    notes = await new_store(memory, "scratch")
    await memory.create_memory(WORKSPACE, notes.store_id, MemoryCreate(path="/old.md", content="stale"), None)
    calls = script(reply(tool_use("bash", {"command": "rm /mnt/memory/scratch/old.md"})), reply(text("Gone.")))
    async with ScriptedModelServer(calls) as server, harness(store, memory, provider, server):
        session_id = await new_session(store, notes, first=user_message("Forget"))
        await wait_idle(store, session_id)
    assert await memories(memory, notes.store_id) == {}
    (deleted,) = await versions(memory, notes.store_id, operation="deleted")
    assert deleted.path == "/old.md" and deleted.created_by is not None and deleted.created_by.id == session_id


async def test_what_others_change_shows_up_after_the_next_call(
    store: SessionStore, memory: MemoryStores, provider: LocalSandboxProvider
) -> None:
    live = await new_store(memory, "live")
    made = {
        name: await memory.create_memory(
            WORKSPACE, live.store_id, MemoryCreate(path=f"/{name}.md", content=f"{name}0"), None
        )
        for name in ("a", "b", "c")
    }
    calls = script(
        reply(tool_use("bash", {"command": "cat /mnt/memory/live/a.md"})),
        reply(tool_use("wait", {})),
        reply(tool_use("bash", {"command": "cd /mnt/memory/live && cat a.md d.md c.md && echo && ls"})),
        reply(text("Seen.")),
    )
    async with ScriptedModelServer(calls) as server, harness(store, memory, provider, server):
        session_id = await new_session(store, live, first=user_message("Watch"))
        blocked = await wait_blocked(store, session_id)
        # meanwhile, through the API: a and c changed, b deleted, d created
        await memory.update_memory(WORKSPACE, live.store_id, made["a"].id, MemoryUpdate(content="a1"), None)
        await memory.delete_memory(WORKSPACE, live.store_id, made["b"].id, None, None)
        await memory.create_memory(WORKSPACE, live.store_id, MemoryCreate(path="/d.md", content="d1"), None)
        await memory.update_memory(WORKSPACE, live.store_id, made["c"].id, MemoryUpdate(content="c1"), None)
        call_id = next(e.id for e in blocked if e.type == "agent.custom_tool_use")
        answer = {"custom_tool_use_id": call_id, "content": [{"type": "text", "text": "go"}]}
        await send(store, session_id, NewEvent("user.custom_tool_result", answer))
        events = await wait_idle(store, session_id)
    assert results(events)[-1] == ("a1d1c1\na.md\nc.md\nd.md", False)
    assert {p: m.content for p, m in (await memories(memory, live.store_id)).items()} == {
        "/a.md": "a1",
        "/c.md": "c1",
        "/d.md": "d1",
    }
    assert notices(events) == []


async def test_what_a_dead_sandbox_wrote_is_kept_and_the_next_sandbox_mounts_it(
    store: SessionStore, memory: MemoryStores, provider: LocalSandboxProvider
) -> None:
    crash = await new_store(memory, "crash")
    calls = script(
        reply(tool_use("bash", {"command": "echo saved > /mnt/memory/crash/x.md; kill -9 $PPID; sleep 5"})),
        reply(tool_use("bash", {"command": "cat /mnt/memory/crash/x.md"})),
        reply(text("Recovered.")),
    )
    async with ScriptedModelServer(calls) as server, harness(store, memory, provider, server):
        session_id = await new_session(store, crash, first=user_message("Crash"))
        events = await wait_idle(store, session_id)
    (_, died), second = results(events)
    assert died and second == ("saved", False)
    assert not (provider.mount_root() / "memory" / session_id).exists()  # released with the last sandbox
    (created,) = await versions(memory, crash.store_id, session_id=session_id)
    assert (created.operation, created.path, created.content) == ("created", "/x.md", "saved\n")


HOSTILE = " && ".join(
    [
        "cd /mnt/memory/odd",
        "ln -s /etc/passwd link.md",
        "mkfifo pipe",
        "printf x > $'cafe\\xcc\\x81.md'",  # not NFC
        "printf x > $'bad\\x01name.md'",  # a control character
        "printf '\\xff\\xfe' > binary.md",
        "head -c 200000 /dev/zero | tr '\\0' a > big.md",
        "mkdir -p " + "/".join(["d"] * 21) + " && echo deep > " + "/".join(["d"] * 21) + "/x.md",
        "echo fine > good.md",
    ]
)


async def test_hostile_names_are_skipped_and_told_once(
    store: SessionStore, memory: MemoryStores, provider: LocalSandboxProvider
) -> None:
    odd = await new_store(memory, "odd")
    calls = script(
        reply(tool_use("bash", {"command": HOSTILE})),
        reply(tool_use("bash", {"command": "ls /mnt/memory/odd | wc -l"})),
        reply(text("Tried.")),
    )
    async with ScriptedModelServer(calls) as server, harness(store, memory, provider, server):
        session_id = await new_session(store, odd, first=user_message("Be odd"))
        events = await wait_idle(store, session_id)
    assert [error for _, error in results(events)] == [False, False]
    stored = await memories(memory, odd.store_id)
    assert list(stored) == ["/good.md"]
    told = notices(events)
    assert len(told) == len(set(told)) == 7  # each once, though two calls saw them
    for name in ("link.md", "pipe", "binary.md", "big.md", "bad\x01name.md", "cafe\u0301.md", "/d/d/d/"):
        assert sum(name in message for message in told) >= 1, (name, told)


async def test_the_system_prompt_lists_the_stores(
    store: SessionStore, memory: MemoryStores, provider: LocalSandboxProvider
) -> None:
    one, two = await new_store(memory, "prefs"), await new_store(memory, "facts")
    told = type(one)(one.store_id, one.name, "read_write", "Write down every preference.")
    async with ScriptedModelServer(script(reply(text("Hello.")))) as server, harness(store, memory, provider, server):
        session_id = await new_session(store, told, two, first=user_message("Hi"))
        await wait_idle(store, session_id)
        system = system_of(server)
    assert system.startswith("Be brief.\n\n# Memory stores\n\n")
    expected: list[JSONObject] = [
        {"name": "prefs", "path": "/mnt/memory/prefs/", "extra": "- Instructions: Write down every preference."},
        {"name": "facts", "path": "/mnt/memory/facts/", "extra": "- Access: read and write"},
    ]
    for item in expected:
        assert f"## {item['name']}\n- Path: {item['path']}\n" in system
        assert f"- Description: what the {item['name']} store holds" in system
        assert str(item["extra"]) in system
