"""A retrieval context strategy and a search tool over a local index: a worked example of ``corral.extend``.

The index is a JSON file: ``{"passages": [{"id": "...", "text": "..."}, ...]}``. Both extensions take the options
``{"index": "<path>", "top_k": 2}``; the tool also takes ``"audit": "<path>"``, a file it appends one line to per
call it runs (its outside effect: a crash test counts the lines).

* ``RetrievalContext`` (entry point ``retrieval`` of ``corral.context_strategies``): for the latest user message,
  the ``top_k`` passages sharing the most words with it join the system prompt. What it retrieved is returned
  as a note (``passages:<event id>``), which corral records on the request's span: later requests of the session,
  and a worker that takes it over after a crash, reuse the note instead of asking the index again, so the
  context is rebuilt exactly even if the index changed meanwhile.
* ``SearchNotes`` (entry point ``search_notes`` of ``corral.server_tools``): the model searches the index itself.

Both import ``corral.extend`` only, and do their file work off the event loop.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio.to_thread

from corral.extend import BuiltContext, ContextView, Event, ToolInvocation, ToolResult

WORD = re.compile(r"[a-z0-9]{3,}")
Passage = dict[str, str]


def _words(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


class Index:
    """Passages read once, when the extension is made (corral calls factories off the event loop)."""

    def __init__(self, options: Mapping[str, Any]):
        raw = json.loads(Path(str(options["index"])).read_text())
        self.passages: list[Passage] = [{"id": str(p["id"]), "text": str(p["text"])} for p in raw["passages"]]
        self.top_k = int(options.get("top_k", 2))

    def search(self, query: str) -> list[Passage]:
        wanted = _words(query)
        scored = [(len(wanted & _words(p["text"])), -n, p) for n, p in enumerate(self.passages)]
        best = sorted((s for s in scored if s[0] > 0), key=lambda s: (s[0], s[1]), reverse=True)
        return [passage for _, _, passage in best[: self.top_k]]


def latest_user_message(events: Sequence[Event]) -> Event | None:
    return next((event for event in reversed(events) if event.type == "user.message"), None)


def text_of(event: Event) -> str:
    content: list[dict[str, Any]] = event.data().get("content") or []
    return " ".join(str(block.get("text", "")) for block in content if block.get("type") == "text")


def listing(passages: Sequence[Passage]) -> str:
    return "\n".join(f"- [{p['id']}] {p['text']}" for p in passages)


class RetrievalContext:
    def __init__(self, options: Mapping[str, Any]):
        self.index = Index(options)

    async def build(self, view: ContextView) -> BuiltContext:
        messages = view.default_messages()
        message = latest_user_message(view.events)
        if message is None:
            return BuiltContext(messages, view.system)
        key = f"passages:{message.id}"
        recorded: list[Passage] | None = view.notes.get(key)
        passages = recorded if recorded is not None else self.index.search(text_of(message))
        notes: dict[str, Any] = {} if recorded is not None else {key: passages}
        if not passages:
            return BuiltContext(messages, view.system, notes)
        section = "Notes from the team's index that may help:\n" + listing(passages)
        system = f"{view.system}\n\n{section}" if view.system else section
        return BuiltContext(messages, system, notes)


class SearchNotes:
    name = "search_notes"
    description = "Search the team's notes index for passages about a query."
    input_schema: dict[str, Any] = {
        "type": "object",
        "properties": {"query": {"type": "string", "description": "what to look for"}},
        "required": ["query"],
    }

    def __init__(self, options: Mapping[str, Any]):
        self.index = Index(options)
        self.audit = Path(str(options["audit"])) if options.get("audit") else None

    async def run(self, call: ToolInvocation) -> ToolResult:
        query = call.input.get("query")
        if not isinstance(query, str) or not query.strip():
            return ToolResult.error("search_notes: query must be a non-empty string")
        if self.audit is not None:
            await anyio.to_thread.run_sync(_append, self.audit, call.tool_use_id)
        found = self.index.search(query)
        return ToolResult.text(listing(found) if found else "no passage matches")


def _append(path: Path, line: str) -> None:
    with path.open("a") as out:
        out.write(line + "\n")
