"""Helpers of the memory mount tests: sessions whose document attaches memory stores, run by a real harness
(``Runtime``) with real bubblewrap sandboxes, a scripted model server and ``MemoryAttachments`` on the same
database as the sessions and the stores."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from corral._types import JSONObject
from corral.config import Settings
from corral.harness import Runtime
from corral.memory import MemoryRecord, MemoryStores, VersionFilter, VersionRecord
from corral.memory.params import StoreCreate
from corral.resources.memory import MemoryAttachments
from corral.sandbox.local import LocalSandboxProvider
from corral.session import NewEvent, NewSession, SessionStore
from corral.testing import ReplyJSON, ScriptedModelServer
from tests.harness.helpers import agent, custom_tool, settings_for

WORKSPACE = "wrkspc_test"
TOOLSET: JSONObject = {"type": "agent_toolset_20260401"}
Access = Literal["read_write", "read_only"]


@dataclass(frozen=True)
class Attached:
    store_id: str
    name: str
    access: Access = "read_write"
    instructions: str | None = None

    @property
    def mount_path(self) -> str:
        return f"/mnt/memory/{self.name}"

    def resource(self, index: int) -> JSONObject:
        return {
            "type": "memory_store",
            "id": f"sesrsc_test{index:04d}",
            "memory_store_id": self.store_id,
            "access": self.access,
            "name": self.name,
            "description": f"what the {self.name} store holds",
            "instructions": self.instructions,
            "mount_path": self.mount_path,
        }


async def new_store(memory: MemoryStores, name: str) -> Attached:
    made = await memory.create_store(WORKSPACE, StoreCreate(name=name, description=f"what the {name} store holds"))
    return Attached(made.id, name)


async def new_session(sessions: SessionStore, *stores: Attached, first: NewEvent | None = None) -> str:
    """A session (as the API creates one) whose ``resources`` attach ``stores``."""
    doc: JSONObject = {
        "agent": agent(tools=[TOOLSET, custom_tool("wait")]),
        "resources": [store.resource(index) for index, store in enumerate(stores)],
    }
    new = NewSession(WORKSPACE, "agent_test", 1, "env_test", doc, [first] if first else [])
    record, _ = await sessions.create_session(new)
    return record.id


async def memories(memory: MemoryStores, store_id: str) -> dict[str, MemoryRecord]:
    """The store's memories by path, with content."""
    _, found = await memory.tree(WORKSPACE, store_id)
    return {each.path: each for each in found}


async def versions(memory: MemoryStores, store_id: str, **filters: str) -> list[VersionRecord]:
    page = await memory.list_versions(WORKSPACE, store_id, VersionFilter(**filters), limit=100, page=None)
    return [item for item in page.items if isinstance(item, VersionRecord)]


def script(*replies: ReplyJSON) -> JSONObject:
    return {"replies": list(replies)}


@asynccontextmanager
async def harness(
    sessions: SessionStore, memory: MemoryStores, provider: LocalSandboxProvider, server: ScriptedModelServer
) -> AsyncGenerator[MemoryAttachments]:
    """A running harness whose sandboxes mount the sessions' memory stores."""
    attachments = MemoryAttachments(sessions, memory, provider.mount_root())
    settings: Settings = settings_for(server.url)
    runtime = Runtime(sessions, settings, sandbox=provider, attachments=attachments, poll_interval=0.2)
    async with runtime.running():
        yield attachments
