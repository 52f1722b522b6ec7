"""Skills (api.md §14): custom skills, each a row with versions, each version's files one zip archive in the blob
store.

Public surface: ``SkillStore`` (``builder``, ``create``, ``add_version``, ``get``, ``list``, ``delete``,
``version``, ``versions``, ``delete_version``, ``content``, and ``live_refs`` for the blob store's ``collect``),
``SkillRecord`` / ``VersionRecord`` (rows and their ``BetaSkill`` / ``BetaSkillVersion`` wire forms),
``ANTHROPIC_SKILLS`` and ``anthropic_unsupported`` (the ids this server refuses by name).

Independent of ``session``, ``sandbox``, ``catalog``, ``vault`` and ``files``; uses ``corral.blobs`` only through
its ``BlobStore`` interface and ``corral.db`` for the rows.

Invariants: an upload is one top-level directory holding ``SKILL.md`` under the path rules of
``corral.skills.paths``, at most the size limit in all (413 otherwise, nothing kept); a skill's name (its slug,
the top-level directory) never changes across versions and is unique in its workspace; a skill of another
workspace is indistinguishable from one that does not exist (404); a version row names a blob that was
completely stored before the row was committed.
"""

from corral.skills.records import SkillRecord, VersionRecord
from corral.skills.store import ANTHROPIC_SKILLS, SkillStore, anthropic_unsupported

__all__ = ["ANTHROPIC_SKILLS", "SkillRecord", "SkillStore", "VersionRecord", "anthropic_unsupported"]
