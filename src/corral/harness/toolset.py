"""The built-in toolset ``agent_toolset_20260401`` as the model sees it: names, descriptions, input schemas.

Sandbox tools run in the session's sandbox (``Hands``); server tools run beside the harness through a
``ToolExecutor`` the composition root wires (``web_fetch`` lives in ``corral.egress``, which the harness
never imports).
"""

from __future__ import annotations

from corral._types import JSONObject
from corral.harness.models.base import ToolSpec

SANDBOX_TOOLS = ("bash", "read", "write", "edit", "glob", "grep")
SERVER_TOOLS = ("web_fetch", "web_search")
BUILTIN_TOOLS = SANDBOX_TOOLS + SERVER_TOOLS


def _schema(properties: JSONObject, required: list[str]) -> JSONObject:
    return {"type": "object", "properties": properties, "required": required}


_STRING = {"type": "string"}

_SPECS: dict[str, tuple[str, JSONObject]] = {
    "bash": (
        "Run a command in a persistent bash shell in the sandbox. Output is truncated at 100 KiB; a non-zero exit "
        "code is reported as an error. `restart: true` starts a fresh shell.",
        _schema(
            {
                "command": {"type": "string", "description": "The command to run."},
                "restart": {"type": "boolean", "description": "Restart the shell instead of running a command."},
                "timeout_ms": {"type": "integer", "description": "Timeout in milliseconds (0: the default)."},
            },
            [],
        ),
    ),
    "read": (
        "Read a text file (or an image / PDF) from the sandbox. `view_range` is [start_line, end_line], 1-indexed "
        "and inclusive; end_line <= 0 reads to the end of the file.",
        _schema(
            {"file_path": _STRING, "view_range": {"type": "array", "items": {"type": "integer"}}},
            ["file_path"],
        ),
    ),
    "write": (
        "Create or overwrite a file in the sandbox (parent directories are created).",
        _schema({"file_path": _STRING, "content": _STRING}, ["file_path", "content"]),
    ),
    "edit": (
        "Replace an exact string in a file. `old_string` must occur exactly once unless `replace_all` is true.",
        _schema(
            {"file_path": _STRING, "old_string": _STRING, "new_string": _STRING, "replace_all": {"type": "boolean"}},
            ["file_path", "old_string", "new_string"],
        ),
    ),
    "glob": (
        "Find files matching a glob pattern (`**` allowed), newest first.",
        _schema({"pattern": _STRING, "path": _STRING}, ["pattern"]),
    ),
    "grep": (
        "Search file contents with a regular expression.",
        _schema({"pattern": _STRING, "path": _STRING}, ["pattern"]),
    ),
    "web_fetch": (
        "Fetch a URL and return its content as text.",
        _schema({"url": _STRING}, ["url"]),
    ),
    "web_search": (
        "Search the web and return the results.",
        _schema({"query": _STRING}, ["query"]),
    ),
}


def builtin_spec(name: str) -> ToolSpec:
    description, schema = _SPECS[name]
    return ToolSpec(name, description, schema)
