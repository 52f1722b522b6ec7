"""A session's events for a person on a terminal (or one JSON object a line, for scripts).

What is shown: messages, tool calls as they start (a ``bash`` call by its command), the first lines of their
results, confirmations, errors and status changes; a spinner while the model thinks, on a terminal only (piped
output gets plain lines and no colour, so tests and scripts read the same text a person sees).
"""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from corral._types import JSONObject, json_list, json_object

RESULT_LINES = 6
TOOL_CALLS = ("agent.tool_use", "agent.mcp_tool_use", "agent.custom_tool_use")


def member(event: JSONObject, key: str) -> JSONObject:
    """The JSON object at ``event[key]`` (empty when absent or not an object)."""
    return json_object(event.get(key)) or {}


def text_of(content: object) -> str:
    blocks = (json_object(block) or {} for block in json_list(content) or [])
    return "".join(str(block.get("text", "")) for block in blocks)


def call_summary(event: JSONObject) -> str:
    """``name command`` for a bash call, ``name {input}`` for any other."""
    arguments = member(event, "input")
    if set(arguments) == {"command"}:
        return f"{event.get('name')} {arguments['command']}"
    return f"{event.get('name')} {json.dumps(arguments, ensure_ascii=False)}"


class Renderer:
    def __init__(self, console: Console | None = None, *, json_lines: bool = False) -> None:
        self.console = console or Console(soft_wrap=True, highlight=False)
        self.json_lines = json_lines
        self._spinner: Status | None = None

    def show(self, event: JSONObject) -> None:
        if self.json_lines:
            self.console.out(json.dumps(event, ensure_ascii=False), highlight=False)
            return
        kind = str(event.get("type", ""))
        if kind in ("span.model_request_start", "session.status_running"):
            self.thinking()
            return
        if kind.startswith("span.") or kind == "agent.thinking":
            return
        self.done_thinking()
        line = self.line(kind, event)
        if line:
            self.console.print(line)

    def line(self, kind: str, event: JSONObject) -> str | None:
        if kind == "user.message":
            return f"[bold green]you:[/] {escape(text_of(event.get('content')))}"
        if kind == "agent.message":
            return f"[bold]agent:[/] {escape(text_of(event.get('content')))}"
        if kind in TOOL_CALLS:
            return f"[cyan]> {escape(call_summary(event))}[/]"
        if kind in ("agent.tool_result", "agent.mcp_tool_result"):
            return self.result(event)
        if kind == "user.tool_confirmation":
            verdict = "allowed" if event.get("result") == "allow" else f"denied {event.get('deny_message') or ''}"
            return f"[magenta]  {escape(verdict.strip())}[/]"
        if kind == "user.custom_tool_result":
            return f"[magenta]  result: {escape(text_of(event.get('content')))}[/]"
        if kind == "session.error":
            return f"[bold red]error:[/] {escape(str(member(event, 'error').get('message')))}"
        if kind == "session.status_idle":
            return f"[dim]- idle ({escape(str(member(event, 'stop_reason').get('type')))})[/]"
        if kind in ("session.status_terminated", "session.status_rescheduled"):
            return f"[dim]- {kind.removeprefix('session.status_')}[/]"
        return None

    def result(self, event: JSONObject) -> str:
        lines = text_of(event.get("content")).rstrip("\n").splitlines() or [""]
        shown = lines[:RESULT_LINES] + (
            [f"... {len(lines) - RESULT_LINES} more lines"] if len(lines) > RESULT_LINES else []
        )
        colour = "red" if event.get("is_error") else "dim"
        return "\n".join(f"[{colour}]  | {escape(line)}[/]" for line in shown)

    def note(self, text: str) -> None:
        self.done_thinking()
        self.console.print(f"[yellow]{escape(text)}[/]")

    def thinking(self) -> None:
        if self._spinner is None and self.console.is_terminal:
            self._spinner = self.console.status("thinking...")
            self._spinner.start()

    def done_thinking(self) -> None:
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None
