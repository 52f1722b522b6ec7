"""What a session writes back to a memory store it has mounted (api.md §12.2), as the store sees it.

A session works on a copy of the store (its mount); what it changed there comes back as ``Put`` and ``Drop``
operations that name what the session saw (the memory's id and ``content_sha256``). ``MemoryStores.write_back``
applies a batch of them in one transaction, recording ``created_by`` as the session's ``session_actor``.

Invariants:

* Last writer never silently wins. An operation whose memory moved on since the session saw it (its content or
  path changed, it was deleted, or its path was taken meanwhile) leaves the store's head as it is ("theirs");
  a ``Put``'s content is then stored as a memory of its own at ``conflict_path(path, session_id)``
  (``/notes.md`` → ``/notes.md.conflict-sesn_…``; written again by later conflicts of the same session and
  path, each time a new version). Both updates are versions; neither is lost.
* A ``Drop`` whose memory changed keeps it (theirs); a ``Drop`` of a memory already gone is done.
* Contents and paths are checked by the caller (``paths.memory_path``, ``params.check_content``) before they
  come here; what can still fail here is a conflict, or the whole batch (an archived or deleted store).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from corral.memory.records import MemoryRecord

CONFLICT_SUFFIX = ".conflict-"


def conflict_path(path: str, session_id: str) -> str:
    """Where a session's content goes when its write to ``path`` conflicts."""
    return f"{path}{CONFLICT_SUFFIX}{session_id}"


@dataclass(frozen=True)
class Put:
    """Write ``content`` at ``path``: a new memory when ``memory_id`` is None (the session saw no memory there),
    else a change of that memory, if it is still at ``path`` with content hashing to ``expected_sha256``."""

    path: str
    content: str
    memory_id: str | None = None
    expected_sha256: str | None = None


@dataclass(frozen=True)
class Drop:
    """Delete the memory ``memory_id`` at ``path``, if it still holds content hashing to ``expected_sha256``."""

    path: str
    memory_id: str
    expected_sha256: str


Op = Put | Drop
OutcomeKind = Literal["written", "dropped", "conflict", "kept", "refused"]


@dataclass(frozen=True)
class Outcome:
    """What became of one operation.

    * ``written``: the ``Put`` is the memory's new head (``memory``);
    * ``dropped``: the memory is gone;
    * ``conflict``: the ``Put``'s content is ``memory``, at the conflict path; the head at ``path`` is theirs;
    * ``kept``: the ``Drop`` found the memory changed and left it;
    * ``refused``: nothing could be stored (``why``), e.g. the conflict path is not a valid path.
    """

    op: Op
    kind: OutcomeKind
    memory: MemoryRecord | None = None
    why: str = ""


@dataclass(frozen=True)
class Head:
    """A memory as a mount compares it: where it is and what its content hashes to (no content)."""

    id: str
    path: str
    content_sha256: str
    version_id: str
