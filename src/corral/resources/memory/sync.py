"""Keeping a copy of a memory store and the store in step, after a write-back and after others' changes.

``settle`` records what became of the session's changes (``corral.memory.writeback.Outcome``) in what is
``Known`` of the copy; ``stale`` and ``refresh`` then bring the copy to the store's heads: a memory changed,
added or deleted by anyone else (another session, the API) is changed, added or removed in the copy.

Invariants:

* ``refresh`` only touches files that are *clean* (``tree.clean``: as the copy left them, or absent where the
  copy has none), so a change the session made and has not written back is never overwritten: the next
  write-back sends it with the hash it was based on, and the store turns it into a conflict copy.
* After a conflict the file at the path is declared clean (its content is safe in the conflict copy), so the
  refresh puts the store's head (theirs) there and the conflict copy beside it: the copy shows what the store
  holds. A ``Drop`` the store refused (the memory changed) brings the memory back.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from corral.memory import MemoryRecord
from corral.memory.writeback import Head, Outcome
from corral.resources.memory.scan import Found
from corral.resources.memory.tree import Entry, Known, clean, local, lstat, place, remove, unplaceable


def settle(known: Known, found: list[Found], outcomes: list[Outcome]) -> list[tuple[str, str]]:
    """Record ``outcomes`` (one per change of ``found``); returns (path, message) of what the session must hear."""
    told: list[tuple[str, str]] = []
    for change, outcome in zip(found, outcomes, strict=True):
        path, memory = outcome.op.path, outcome.memory
        entry = known.get(path)
        if outcome.kind == "written" and memory is not None:
            known[path] = Entry(memory.id, memory.content_sha256, memory.version_id, change.stamp)
        elif outcome.kind == "dropped":
            known.pop(path, None)
        elif outcome.kind == "conflict" and memory is not None:
            # the file holds the session's content, safe in the conflict copy: the refresh may put theirs there
            held = entry if entry is not None else Entry("", "", "", None)
            known[path] = replace(held, sha256=change.sha256 or "", stamp=change.stamp)
            told.append((path, _conflicted(path, memory)))
        elif outcome.kind == "kept" and entry is not None:
            known[path] = replace(entry, stamp=None)
            told.append((path, "deleted in the sandbox but changed in the store since: the store keeps it"))
        elif outcome.kind == "refused":
            told.append((path, f"not saved: {outcome.why}"))
    return told


def stale(known: Known, heads: list[Head]) -> list[str]:
    """The ids of the memories whose content the copy lacks (new, or changed since the copy's entry); the
    entries of memories whose content the copy has already take their current ids."""
    wanted: list[str] = []
    for head in heads:
        entry = known.get(head.path)
        if entry is None or entry.sha256 != head.content_sha256:
            wanted.append(head.id)
        elif (entry.memory_id, entry.version_id) != (head.id, head.version_id):
            known[head.path] = replace(entry, memory_id=head.id, version_id=head.version_id)
    return wanted


def refresh(root: Path, known: Known, heads: list[Head], fetched: list[MemoryRecord]) -> list[tuple[str, str]]:
    """Bring the copy at ``root`` to ``heads`` (with the content of the ``stale`` ones in ``fetched``): remove
    clean files of memories that are gone, place new and changed ones. Returns (path, why) of memories that
    could not be placed."""
    present = {head.path for head in heads}
    for path, entry in list(known.items()):
        if path not in present and clean(root, path, entry):
            remove(root, path)
            del known[path]
    skipped: list[tuple[str, str]] = []
    for memory in fetched:
        entry = known.get(memory.path)
        free = lstat(local(root, memory.path)) is None if entry is None else clean(root, memory.path, entry)
        if not free:
            continue  # the session's own change is there: the next write-back decides
        why = unplaceable(memory.path)
        placed = None if why is not None else place(root, memory)
        if placed is None:
            skipped.append((memory.path, why or "its place in the directory is taken"))
        else:
            known[memory.path] = placed
    return skipped


def _conflicted(path: str, memory: MemoryRecord) -> str:
    return (
        f"changed in the store since this session read it: the store keeps that version at {path}, and this"
        f" session's at {memory.path} (version {memory.version_id})"
    )
