"""An agent's ``skills`` (api.md §3.2, §5.2): the stored form of what a client sent.

Invariants:

* A stored entry is ``{"type": "custom", "skill_id", "version"}`` (``BetaManagedAgentsCustomSkill``): ``version``
  is the version id the client pinned, or ``"latest"`` when it sent none (or null, or ``"latest"``). A session
  resolves ``"latest"`` to the newest version when it starts (``corral.resources.skills``).
* Anthropic-provided skills (``type: "anthropic"``) are a 400 naming them: this server does not have them.
* A skill appears at most once; at most ``SKILLS_MAX`` (the request model's limit).
* The catalog never looks skills up (it knows no ``corral.skills``): that a custom skill and its version exist in
  the workspace is checked where agents are written and sessions created (``corral.resources.skills.pin``).
"""

from __future__ import annotations

from collections.abc import Sequence

from corral._types import JSONObject
from corral.catalog.params.agents import SkillParams
from corral.errors import ErrorCode, InvalidRequest

LATEST = "latest"


def refuse_anthropic(skills: Sequence[SkillParams] | None) -> None:
    anthropic = [skill.skill_id for skill in skills or () if skill.type == "anthropic"]
    if anthropic:
        raise InvalidRequest(
            f"skills: Anthropic-provided skills ({', '.join(repr(name) for name in anthropic[:4])}) are not available"
            " on this server; only custom skills (skill_…, created with POST /v1/skills) are",
            code=ErrorCode.NOT_SUPPORTED,
        )


def resolve_skills(skills: Sequence[SkillParams] | None) -> list[JSONObject]:
    """The stored ``skills`` of an agent (or a session's override) from those a client sent (null: none)."""
    refuse_anthropic(skills)
    seen: set[str] = set()
    stored: list[JSONObject] = []
    for skill in skills or ():
        if skill.skill_id in seen:
            raise InvalidRequest(f"skills: {skill.skill_id} is listed twice; list each skill once")
        seen.add(skill.skill_id)
        stored.append({"type": "custom", "skill_id": skill.skill_id, "version": skill.version or LATEST})
    return stored
