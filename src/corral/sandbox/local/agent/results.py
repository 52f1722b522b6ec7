"""Tool result helpers shared by the agent's tools: content blocks, errors and text hygiene.

Invariant: every text that leaves the agent is valid UTF-8 without NUL characters (PostgreSQL's ``jsonb``
rejects ``\\u0000``), without terminal escape sequences, and never empty (the Messages API rejects empty
text blocks).
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing costs milliseconds of start-up; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    Result: TypeAlias = dict[str, Any]
    #: a value decoded from the host (marshal) or JSON: narrowing it with ``isinstance`` gives known types
    Value: TypeAlias = dict[str, Any] | list[Any] | str | int | float | bool | None

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


class ToolFailure(Exception):
    """A tool failed in a way the model should read; ``str(exc)`` is the message."""


def clean(text: str) -> str:
    return _ANSI.sub("", text).replace("\x00", "\ufffd")


def decode(data: bytes) -> str:
    return clean(data.decode("utf-8", errors="replace"))


def text(body: str, *, is_error: bool = False, empty: str = "(no output)") -> Result:
    return {"content": [{"type": "text", "text": clean(body) or empty}], "is_error": is_error}


def error(message: str) -> Result:
    return text(message, is_error=True)
