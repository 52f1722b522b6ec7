"""The system prompt's skills section: the skills a session is pinned to, as the hosted runtime lists them.

Each skill is listed by name and description with the path of its ``SKILL.md`` in the sandbox; the model is told
to read that file when a task matches the description (progressive disclosure: only names and descriptions are in
the prompt, the instructions and the skill's other files are read on demand).

Invariant: rendered from the session's doc only (its pins, ``corral.vocab.options.SESSION_SKILLS``, written once
when the session was created), so it is the same on every turn and every worker; no pins, no section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from corral._types import JSONObject, json_list
from corral.vocab.options import SESSION_SKILLS, SKILLS_DIR

INTRO = (
    "You have skills: folders of instructions, scripts and resources for particular tasks, read-only in your"
    " sandbox. When a task matches a skill's description, read its SKILL.md with your tools first and follow it;"
    " its other files are in the same folder."
)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def skills_section(doc: Mapping[str, object]) -> str | None:
    """The section for the skills in a session's ``doc``, or None when it has none."""
    pins = cast(list[JSONObject], json_list(doc.get(SESSION_SKILLS)) or [])
    if not pins:
        return None
    entries = [
        "<skill>\n"
        f"<name>{_escape(str(pin['name']))}</name>\n"
        f"<description>{_escape(str(pin['description']))}</description>\n"
        f"<location>{SKILLS_DIR}/{pin['name']}/SKILL.md</location>\n"
        "</skill>"
        for pin in pins
    ]
    return "\n".join([INTRO, "<available_skills>", *entries, "</available_skills>"])


def with_skills(system: str | None, doc: Mapping[str, object]) -> str | None:
    """``system`` followed by the skills section of ``doc`` (when there is one)."""
    section = skills_section(doc)
    if section is None:
        return system
    return f"{system}\n\n{section}" if system else section
