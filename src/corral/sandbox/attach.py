"""What a session brings into its sandbox beyond its environment's recipe: mounts and set-up steps.

A session's resources (uploaded files, memory stores, skills, repositories, its outputs directory) are turned
into ``Attachments`` by a ``SessionAttachments`` the composition root gives the ``HandsPool``
(``corral.resources`` is the real one). The sandbox side knows only these shapes, never files, memory stores or
skills: a ``Mount`` is a host path shown at a path in the sandbox, a ``Setup`` is a shell command run in a fresh
sandbox before its first call.

Invariants:

* Attachments are asked for every time a sandbox is provisioned, so a sandbox that dies and is replaced gets
  them again, and a resource added meanwhile is in the next one. ``before_call`` may also update what a mounted
  directory of a live sandbox shows (a bind mount shows its source's changes); a new mount needs a new sandbox.
* Nothing secret is ever part of an ``Attachments`` (a repository's token is added by the egress proxy).
* A ``Setup`` that fails is a ``ProvisionNotice`` of its ``error_type`` (the session is told, keeps running,
  and the sandbox is used without what the step would have made); it is run again in the next fresh sandbox.
* ``after_call`` and ``turn_ended`` never raise for a failure of what they write back: they log it, and
  report what the session must know as the notices ``take_notices`` returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.sandbox.base import Mount, ProvisionNotice, Setup

__all__ = ["NO_ATTACHMENTS", "Attachments", "Mount", "SessionAttachments", "Setup"]


@dataclass(frozen=True)
class Attachments:
    mounts: tuple[Mount, ...] = ()
    setup: tuple[Setup, ...] = ()


class SessionAttachments:
    """A session's resources as its sandbox sees them. This base attaches nothing (no resources)."""

    async def attachments(self, workspace_id: str, session_id: str) -> Attachments:
        """What the next sandbox of the session gets (asked at every provisioning)."""
        return Attachments()

    async def before_call(self, workspace_id: str, session_id: str, tool_name: str) -> None:
        """A sandbox tool call of the session is about to run in a live sandbox: bring what its mounted
        directories show up to date (e.g. a file resource added since the sandbox started)."""

    async def after_call(self, workspace_id: str, session_id: str, tool_name: str) -> None:
        """A sandbox tool call of the session finished: write back what it changed in writable mounts."""

    async def turn_ended(self, workspace_id: str, session_id: str) -> None:
        """The session's turn ended (it goes idle): collect what it left for the user (its outputs)."""

    async def forget(self, session_id: str) -> None:
        """The session is deleted: drop what was kept on the host for it (its outputs, its hold on files)."""

    async def released(self, workspace_id: str, session_id: str) -> None:
        """The session's sandbox was released (idle, dead or shut down): write back what it left, let go of
        what was kept for it. The next sandbox, if any, asks ``attachments`` again."""

    def take_notices(self, session_id: str) -> list[ProvisionNotice]:
        """What the session must be told about writing back (e.g. a conflict), each once."""
        return []


NO_ATTACHMENTS = SessionAttachments()
