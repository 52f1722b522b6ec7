"""``Combined``: several ``SessionAttachments`` as one, in order.

Invariants: every part is asked, told and drained each time, even when an earlier one fails to write back
(each part logs and reports its own failures; none raises for them); within one hook, the parts that read the
session's record through ``reads`` share one read of it (``records.SharedReads``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager

from corral.resources.records import SharedReads
from corral.sandbox.attach import Attachments, SessionAttachments
from corral.sandbox.base import ProvisionNotice


class Combined(SessionAttachments):
    def __init__(self, parts: Sequence[SessionAttachments], reads: SharedReads | None = None):
        self.parts = tuple(parts)
        self.reads = reads

    @asynccontextmanager
    async def _one_read(self, workspace_id: str, session_id: str) -> AsyncGenerator[None]:
        if self.reads is None:
            yield
            return
        async with self.reads.one_read(workspace_id, session_id):
            yield

    async def attachments(self, workspace_id: str, session_id: str) -> Attachments:
        async with self._one_read(workspace_id, session_id):
            found = [await part.attachments(workspace_id, session_id) for part in self.parts]
        return Attachments(
            mounts=tuple(mount for each in found for mount in each.mounts),
            setup=tuple(step for each in found for step in each.setup),
        )

    async def before_call(self, workspace_id: str, session_id: str, tool_name: str) -> None:
        async with self._one_read(workspace_id, session_id):
            for part in self.parts:
                await part.before_call(workspace_id, session_id, tool_name)

    async def after_call(self, workspace_id: str, session_id: str, tool_name: str) -> None:
        async with self._one_read(workspace_id, session_id):
            for part in self.parts:
                await part.after_call(workspace_id, session_id, tool_name)

    async def turn_ended(self, workspace_id: str, session_id: str) -> None:
        async with self._one_read(workspace_id, session_id):
            for part in self.parts:
                await part.turn_ended(workspace_id, session_id)

    async def forget(self, session_id: str) -> None:
        for part in self.parts:
            await part.forget(session_id)

    async def released(self, workspace_id: str, session_id: str) -> None:
        for part in self.parts:
            await part.released(workspace_id, session_id)

    def take_notices(self, session_id: str) -> list[ProvisionNotice]:
        return [notice for part in self.parts for notice in part.take_notices(session_id)]
