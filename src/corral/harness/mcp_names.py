"""The name the model calls an MCP tool by: ``mcp__<server>__<tool>``, unique across the servers of an agent.

Invariants: a pure function of ``(server, tool)``, so a takeover and every later context name a call alike; the
name fits every provider's rule (``[A-Za-z0-9_-]``, at most ``NAME_MAX`` characters); two pairs never share a
plain name (a plain server name has no ``__``, so the first ``__`` after the prefix ends it), and names that do
not fit plainly are cleaned and end with a digest of the exact pair.
"""

from __future__ import annotations

import hashlib
import re

PREFIX = "mcp__"
NAME_MAX = 64
_SERVER = re.compile(r"^[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*$")  # no leading, trailing or doubled "_": "__" ends it
_TOOL = re.compile(r"^[A-Za-z0-9_-]+$")
_UNFIT = re.compile(r"[^A-Za-z0-9-]+")


def model_tool_name(server: str, tool: str) -> str:
    """The name the model calls tool ``tool`` of MCP server ``server`` by."""
    plain = f"{PREFIX}{server}__{tool}"
    if _SERVER.match(server) and _TOOL.match(tool) and len(plain) <= NAME_MAX:
        return plain
    digest = hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:8]
    base = f"{PREFIX}{_clean(server)}__{_clean(tool)}"[: NAME_MAX - len(digest) - 1]
    return f"{base}_{digest}"


def _clean(part: str) -> str:
    return _UNFIT.sub("_", part).strip("_") or "x"
