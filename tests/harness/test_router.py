"""The tool router checks a built-in call's input against the tool's schema once, before anything runs it.

Table-driven: each bad input is answered with an error result naming the tool and the field, and reaches no
executor (the recording executor below sees only the calls that fit).
"""

from __future__ import annotations

from typing import Any

import pytest

from corral.harness import ToolCall, ToolRouter
from corral.sandbox import ToolResult
from corral.vocab.tools import BUILTIN_TOOLS, DEFINITIONS, input_problem

pytestmark = pytest.mark.anyio


class Recording:
    """A server-side executor for every built-in tool that records what reaches it."""

    names = frozenset(BUILTIN_TOOLS)

    def __init__(self) -> None:
        self.seen: list[ToolCall] = []

    async def execute(self, call: ToolCall) -> ToolResult:
        self.seen.append(call)
        return ToolResult.text("ran")


BAD_INPUTS: list[tuple[str, Any, str]] = [
    ("bash", {}, "bash: command is required"),
    ("bash", {"command": "   "}, "bash: command is required"),
    ("bash", {"command": 5}, "bash: command must be of type str"),
    ("bash", {"command": "true", "timeout_ms": -1}, "bash: timeout_ms must not be negative"),
    ("bash", {"command": "true", "timeout_ms": True}, "bash: timeout_ms must be of type int"),
    ("bash", {"restart": "yes"}, "bash: restart must be of type bool"),
    ("bash", ["ls"], "bash: input must be an object"),
    ("read", {}, "read: file_path is required and must be a string"),
    ("read", {"file_path": "a", "view_range": "1-2"}, "read: view_range must be of type list"),
    ("write", {"file_path": "a"}, "write: content is required and must be a string"),
    ("edit", {"file_path": "a", "old_string": "x"}, "edit: new_string is required and must be a string"),
    (
        "edit",
        {"file_path": "a", "old_string": "x", "new_string": "y", "replace_all": 1},
        "edit: replace_all must be of type bool",
    ),
    ("glob", {"path": "."}, "glob: pattern is required and must be a string"),
    ("grep", {"pattern": 3}, "grep: pattern is required and must be a string"),
    ("web_fetch", {}, "web_fetch: url is required and must be a string"),
    ("web_search", {"query": None}, "web_search: query is required and must be a string"),
]

GOOD_INPUTS: list[tuple[str, Any]] = [
    ("bash", {"command": "ls"}),
    ("bash", {"restart": True}),
    ("bash", {"command": "sleep 1", "timeout_ms": 0}),
    ("read", {"file_path": "a", "view_range": [1, 2]}),
    ("write", {"file_path": "a", "content": ""}),
    ("edit", {"file_path": "a", "old_string": "x", "new_string": "y", "replace_all": True}),
    ("glob", {"pattern": "**/*.py"}),
    ("grep", {"pattern": "x", "path": "src"}),
    ("web_fetch", {"url": "https://example.com"}),
    ("web_search", {"query": "corral"}),
]


@pytest.mark.parametrize(("tool", "tool_input", "message"), BAD_INPUTS)
async def test_a_bad_input_is_an_error_result_and_reaches_nothing(tool: str, tool_input: Any, message: str) -> None:
    executor = Recording()
    result = await ToolRouter(None, [executor]).run(ToolCall("sesn_x", "sevt_x", tool, tool_input, {}))
    assert result == ToolResult.error(message)
    assert executor.seen == []


@pytest.mark.parametrize(("tool", "tool_input"), GOOD_INPUTS)
async def test_an_input_that_fits_its_schema_is_run(tool: str, tool_input: Any) -> None:
    executor = Recording()
    result = await ToolRouter(None, [executor]).run(ToolCall("sesn_x", "sevt_x", tool, tool_input, {}))
    assert result == ToolResult.text("ran") and len(executor.seen) == 1


async def test_a_sandbox_tool_without_hands_or_executor_is_an_error() -> None:
    result = await ToolRouter(None).run(ToolCall("sesn_x", "sevt_x", "bash", {"command": "ls"}, {}))
    assert result == ToolResult.error("bash: no executor for this tool is configured on this server")


def test_every_tool_the_model_is_shown_is_checked_against_the_same_schema() -> None:
    for name, definition in DEFINITIONS.items():
        schema = definition.input_schema()
        assert schema["type"] == "object" and set(schema["required"]) <= set(schema["properties"])
        missing = dict.fromkeys(schema["required"])
        if schema["required"]:
            assert input_problem(name, missing) is not None
