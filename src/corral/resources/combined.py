"""``Combined``: several ``SessionAttachments`` as one, in order.

Invariant: every part is asked, told and drained each time, even when an earlier one fails to write back
(each part logs and reports its own failures; none raises for them).
"""

from __future__ import annotations

from collections.abc import Sequence

from corral.sandbox.attach import Attachments, SessionAttachments
from corral.sandbox.base import ProvisionNotice


class Combined(SessionAttachments):
    def __init__(self, parts: Sequence[SessionAttachments]):
        self.parts = tuple(parts)

    async def attachments(self, workspace_id: str, session_id: str) -> Attachments:
        found = [await part.attachments(workspace_id, session_id) for part in self.parts]
        return Attachments(
            mounts=tuple(mount for each in found for mount in each.mounts),
            setup=tuple(step for each in found for step in each.setup),
        )

    async def before_call(self, workspace_id: str, session_id: str, tool_name: str) -> None:
        for part in self.parts:
            await part.before_call(workspace_id, session_id, tool_name)

    async def after_call(self, workspace_id: str, session_id: str, tool_name: str) -> None:
        for part in self.parts:
            await part.after_call(workspace_id, session_id, tool_name)

    async def turn_ended(self, workspace_id: str, session_id: str) -> None:
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
