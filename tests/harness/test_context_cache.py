"""The kept context (``harness.context_cache``) and the kept wire form of messages (``Message.wire``) are caches:
after every appended event they give exactly what the pure definitions give from the whole log
(``build_messages``, ``estimate_tokens``, ``Extensions.notes``, the adapters' ``request_params``)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corral._types import JSONObject
from corral.harness.compaction import estimate_tokens
from corral.harness.context import build_messages
from corral.harness.context_cache import ContextCache
from corral.harness.extensions import Extensions
from corral.harness.models import anthropic, openai_request
from corral.harness.models.base import ModelRequest, RequestMemo, ToolSpec
from corral.harness.models.content import Message, Text, Thinking
from corral.session import Event, EventType
from tests.harness.logs import STAMP, Item, fold, log

TOOLS = [ToolSpec("bash", "Run a command.", {"type": "object"})]
USES: dict[EventType, tuple[EventType, str]] = {  # a call's type → its result's type and the field naming the call
    "agent.tool_use": ("agent.tool_result", "tool_use_id"),
    "agent.mcp_tool_use": ("agent.mcp_tool_result", "mcp_tool_use_id"),
    "agent.custom_tool_use": ("user.custom_tool_result", "custom_tool_use_id"),
}
CONTENT: list[JSONObject] = [
    {"type": "text", "text": "hello"},
    {"type": "text", "text": ""},
    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
    {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}, "title": "d"},
    {"type": "search_result", "title": "t", "source": "s", "content": [{"type": "text", "text": "found"}]},
    {"type": "redacted"},
]
SIMPLE: list[Item] = [
    ("session.status_running", {}),
    ("session.status_idle", {"stop_reason": {"type": "end_turn"}}),
    ("session.status_idle", {"stop_reason": {"type": "requires_action", "event_ids": []}}),
    ("span.model_request_start", {"purpose": "turn"}),
    ("span.model_request_start", {"purpose": "compaction"}),
    ("span.model_request_start", {"purpose": "turn", "context": {"strategy": "default", "notes": {"k": 1}}}),
    ("span.model_request_start", {"purpose": "turn", "context": {"strategy": "other", "notes": {"k": 2}}}),
    ("span.model_request_end", {"is_error": False, "stop_reason": "end_turn"}),
    ("span.model_request_end", {"is_error": True}),
    ("user.interrupt", {}),
    ("agent.thinking", {"thinking": "hm", "signature": "sig", "origin": "anthropic"}),
    ("agent.thinking", {"thinking": "", "redacted": "opaque", "origin": "anthropic"}),
    ("agent.thinking", {"thinking": "elsewhere", "origin": "openai"}),
    (
        "user.define_outcome",
        {"outcome_id": "o1", "description": "Do it", "rubric": {"content": "R"}, "max_iterations": 2},
    ),
    (
        "span.outcome_evaluation_end",
        {"outcome_id": "o1", "iteration": 0, "result": "needs_revision", "explanation": "x"},
    ),
]

Calls = list[tuple[str, EventType]]
"""The calls a log has made so far: their ids and types."""
Step = Callable[[int, Calls], Item | None]
"""One step of a log: the event to write at ``seq`` (None: nothing to write), given the calls so far."""


def simple(item: Item) -> Step:
    return lambda _seq, _calls: item


def content(kind: EventType, blocks: list[JSONObject]) -> Step:
    return lambda _seq, _calls: (kind, {"content": blocks})


def use(kind: EventType, cross_posted: bool) -> Step:
    def step(seq: int, calls: Calls) -> Item:
        data: JSONObject = {"name": "bash", "input": {"n": seq}, "mcp_server_name": "srv"}
        if cross_posted:
            data["session_thread_id"] = "sthr_x"
        calls.append((f"e{seq}", kind))
        return (kind, data)

    return step


def answer(index: int, is_error: bool) -> Step:
    def step(seq: int, calls: Calls) -> Item | None:
        if not calls:
            return None
        call_id, kind = calls[index % len(calls)]
        result, key = USES[kind]
        return (result, {key: call_id, "content": [{"type": "text", "text": f"out {seq}"}], "is_error": is_error})

    return step


def confirm(index: int, verdict: str) -> Step:
    def step(_seq: int, calls: Calls) -> Item | None:
        if not calls:
            return None
        return ("user.tool_confirmation", {"tool_use_id": calls[index % len(calls)][0], "result": verdict})

    return step


def compact(share: float) -> Step:
    return lambda seq, _calls: (
        "agent.thread_context_compacted",
        {"summary": f"S{seq}", "through_seq": int(share * (seq - 1)), "method": "summary"},
    )


KINDS: list[EventType] = ["user.message", "agent.message", "system.message"]
STEPS = (
    st.sampled_from(SIMPLE).map(simple)
    | st.builds(content, st.sampled_from(KINDS), st.lists(st.sampled_from(CONTENT), max_size=3))
    | st.builds(use, st.sampled_from(sorted(USES)), st.booleans())
    | st.builds(answer, st.integers(0, 9), st.booleans())
    | st.builds(confirm, st.integers(0, 9), st.sampled_from(["allow", "deny"]))
    | st.builds(compact, st.floats(0, 1))
)


def _items(steps: list[Step]) -> list[Item]:
    items: list[Item] = []
    calls: Calls = []
    for step in steps:
        item = step(len(items) + 1, calls)
        if item is not None:
            items.append(item)
    return items


def _stamped(events: list[Event]) -> list[Event]:
    """The same log after its client events were stamped (the only change a row ever sees)."""
    return [replace(e, processed_at=STAMP) if e.processed_at is None else e for e in events]


def _wire_equal(messages: list[Message], thinking: int | None, memo: RequestMemo | None = None) -> None:
    """The requests made from what the messages kept (and what the session's previous requests kept, ``memo``)
    equal the requests made from fresh copies of them."""
    fresh = [Message(m.role, list(m.content)) for m in messages]
    kept = ModelRequest("m", messages, "Be brief.", TOOLS, 100, thinking, memo or RequestMemo())
    new = ModelRequest("m", fresh, "Be brief.", TOOLS, 100, thinking)
    assert json.loads(anthropic.request_body(kept)) == {**anthropic.request_params(new), "stream": True}
    assert openai_request.request_params(kept) == openai_request.request_params(new)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEPS, max_size=40), st.data())
def test_the_kept_context_is_the_context_of_the_whole_log(steps: list[Step], data: st.DataObject) -> None:
    events = log(*_items(steps))
    cache, extensions = ContextCache(), Extensions.defaults()
    for n in range(len(events) + 1):
        prefix = (_stamped(events) if n % 3 == 0 else events)[:n]
        compaction = fold(prefix).compaction
        messages = cache.messages(prefix, compaction)
        assert messages == build_messages(prefix, compaction)
        assert cache.estimate(messages, "Be brief.", TOOLS) == estimate_tokens(messages, "Be brief.", TOOLS)
        assert cache.notes(prefix, "default") == extensions.notes(prefix)
        for thinking in (1024, None) if n % 2 else (None, 1024):
            _wire_equal(messages, thinking, cache.memo)
    # a log that does not continue the one fed (an earlier point of it, another log) is built afresh
    back = data.draw(st.integers(0, len(events)))
    other = _renamed(log(*_items(data.draw(st.lists(STEPS, min_size=len(events), max_size=len(events) + 5)))))
    for elsewhere in (events[:back], other):
        compaction = fold(elsewhere).compaction
        assert cache.messages(elsewhere, compaction) == build_messages(elsewhere, compaction)
        _wire_equal(cache.messages(elsewhere, compaction), None, cache.memo)
        assert cache.notes(elsewhere, "default") == extensions.notes(elsewhere)


def _renamed(events: list[Event]) -> list[Event]:
    """Another session's log: every id (and every reference to one) other than the ones of ``log``."""
    return [replace(e, id="o" + e.id, payload=re.sub(r'"(e[0-9]+)"', r'"o\1"', e.payload)) for e in events]


def test_a_body_merges_what_the_api_would_see_as_one_message() -> None:
    """Neutral messages the Messages API sees as one (a system message, or an assistant message left empty, between
    two user messages) are one message of the body too, whether the kept parts were made with thinking or not."""
    user, system = Message("user", [Text("a")]), Message("system", [Text("rules")])
    elsewhere = Message("assistant", [Thinking("t", origin="openai")])
    thought = Message("assistant", [Thinking("t", "sig", origin="anthropic"), Text("b")])
    memo = RequestMemo()
    for messages in ([user, system, Message("user", [Text("c")])], [user, elsewhere, user, thought, user]):
        for thinking in (None, 1024, None):
            _wire_equal(messages, thinking, memo)
            _wire_equal([*messages, user, thought, user, system, user, thought, user], thinking, memo)


def test_a_session_memo_is_used_only_for_the_messages_it_was_made_from() -> None:
    """What a request kept (``ModelRequest.memo``) serves the next one only as far as its messages are the same."""
    memo = RequestMemo()
    one = [Message("user" if i % 2 == 0 else "assistant", [Text(f"one {i}")]) for i in range(9)]
    two = [Message(m.role, [Text(f"two {i}")]) for i, m in enumerate(one)]
    for messages in (one, [*one, *one[:4]], two, one[:3], [*one, Message("system", [Text("s")]), *one]):
        _wire_equal(messages, None, memo)
