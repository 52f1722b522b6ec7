"""The console's pure parts, without a browser: the sealed session cookie and timeline entries."""

from __future__ import annotations

from corral.console.cookie import CookieSealer, fresh
from corral.console.timeline import entries, entry
from corral.session import Event, EventType, dumps

MASTER = bytes(range(32))


def event(seq: int, kind: EventType, data: dict[str, object], at: str = "2026-12-07T10:00:00.000000Z") -> Event:
    return Event("sesn_x", seq, f"sevt_{seq}", kind, None, at, dumps(data))


def test_the_cookie_opens_only_unaltered_and_under_the_same_master_key() -> None:
    sealer = CookieSealer(MASTER)
    session = fresh("sk-secret")
    sealed = sealer.seal(session)
    assert "sk-secret" not in sealed
    assert sealer.open(sealed) == session
    assert CookieSealer(MASTER).open(sealed) == session  # another process of the deployment
    assert CookieSealer(bytes(32)).open(sealed) is None
    assert sealer.open(sealed[:-4] + "AAAA") is None
    assert sealer.open("") is None and sealer.open(None) is None


def test_entries_name_each_kind_and_time_model_requests() -> None:
    log = [
        event(1, "user.message", {"content": [{"type": "text", "text": "<b>hi</b>"}]}),
        event(2, "span.model_request_start", {"model": "m"}, "2026-12-07T10:00:01.000000Z"),
        event(3, "agent.tool_use", {"name": "bash", "input": {"command": "ls"}, "evaluated_permission": "ask"}),
        event(
            4,
            "span.model_request_end",
            {"model_request_start_id": "sevt_2", "model_usage": {"input_tokens": 7, "output_tokens": 3}},
            "2026-12-07T10:00:02.500000Z",
        ),
        event(5, "session.status_idle", {"stop_reason": {"type": "requires_action", "event_ids": ["sevt_3"]}}),
        event(6, "user.tool_confirmation", {"tool_use_id": "sevt_3", "result": "deny", "deny_message": "no"}),
        event(7, "session.error", {"error": {"type": "model_overloaded_error", "message": "busy"}}),
    ]
    made = entries(log, frozenset({"sevt_3"}))
    assert [(e["kind"], e["title"], e["text"]) for e in made] == [
        ("user", "You", "<b>hi</b>"),
        ("span", "Model request", "m"),
        ("tool", "Tool call: bash (permission: ask)", ""),
        ("span", "Model response", "7 in / 3 out tokens, 1.50 s"),
        ("status", "Status: idle (requires_action)", ""),
        ("user", "Tool call denied", "no"),
        ("error", "Error: model_overloaded_error", "busy"),
    ]
    assert made[2]["action"] == "confirm" and made[2]["detail"] == '{\n  "command": "ls"\n}'
    assert made[4]["waits_on"] == ["sevt_3"] and made[4]["status"] == "idle"
    assert made[5]["answers"] == "sevt_3"
    custom = entry(event(8, "agent.custom_tool_use", {"name": "lookup", "input": {}}), {}, frozenset({"sevt_8"}))
    assert (custom["title"], custom["action"]) == ("Custom tool call: lookup", "custom")
