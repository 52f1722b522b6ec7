"""The memory section of the system prompt (api.md §12.2): each memory store the session attaches, with its name,
description, mount path, access and instructions, so the agent knows where to look and what it may write.

Read from the session's own record (``doc.resources``, snapshotted when the session was created): the harness
never reads the memory stores themselves. Invariant: a session without memory stores gets no section, so its
system prompt is exactly the agent's.
"""

from __future__ import annotations

from corral._types import JSONObject, json_list, json_object

HEADING = "# Memory stores"
INTRO = (
    "Memory stores are directories in your sandbox whose files outlast this session: other sessions read what"
    " you leave there. Read them before you start, and keep what is worth remembering up to date with the"
    " ordinary file tools (one topic per file, text only, at most 100 kB each)."
)
ACCESS = {"read_write": "read and write", "read_only": "read only (writes are refused)"}


def _stores(doc: JSONObject) -> list[JSONObject]:
    found = (json_object(item) for item in json_list(doc.get("resources")) or [])
    return [item for item in found if item is not None and item.get("type") == "memory_store"]


def _text(resource: JSONObject, key: str) -> str:
    value = resource.get(key)
    return value.strip() if isinstance(value, str) else ""


def _entry(resource: JSONObject) -> str:
    name = _text(resource, "name") or str(resource.get("memory_store_id", ""))
    lines = [
        f"## {name}",
        f"- Path: {_text(resource, 'mount_path').rstrip('/')}/",
        f"- Access: {ACCESS.get(_text(resource, 'access'), ACCESS['read_write'])}",
    ]
    if description := _text(resource, "description"):
        lines.append(f"- Description: {description}")
    if instructions := _text(resource, "instructions"):
        lines.append(f"- Instructions: {instructions}")
    return "\n".join(lines)


def memory_section(doc: JSONObject) -> str | None:
    """The section for the session document ``doc``, or None when it attaches no memory store."""
    stores = _stores(doc)
    if not stores:
        return None
    return "\n\n".join([HEADING, INTRO, *map(_entry, stores)])
