"""The seam of the ``auto`` permission policy: a ``Judge`` gives each call a ``Verdict`` (api.md §19.3).

A judge sees the call (tool name, input, kind, the tool's resolved config) and a ``JudgeContext``; it answers
allow, ask (``indeterminate``) or deny (``high_risk`` | ``indeterminate``). The harness asks it once per call,
before the call is written to the log, and records the verdict as the call's ``evaluation``; nothing re-decides
it later. ``RuleJudge`` (``policy.rules``) is the default; a composition root may pass another one (a model
judge) to ``Runtime``.

Invariants:

* A verdict is always one the spec can record: ``allow`` carries no reason, ``ask`` only ``indeterminate``,
  ``deny`` ``high_risk`` or ``indeterminate`` (``Verdict`` refuses any other combination).
* A judge that fails gives no judgement, and no judgement is ``ask`` (``judged``): a call never runs because
  its judge broke.
* A judge reads the user's intent only from ``user.message`` events (``JudgeContext.intent``), never from tool
  results, fetched pages or MCP responses: those are where a prompt injection would speak.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from corral._types import JSONObject
from corral.session import Event
from corral.vocab.tools import Permission

log = logging.getLogger("corral.harness.policy")

ToolKind = Literal["builtin", "mcp"]
AskReason = Literal["indeterminate"]
DenyReason = Literal["high_risk", "indeterminate"]
_REASONS: dict[Permission, tuple[DenyReason | None, ...]] = {
    "allow": (None,),
    "ask": ("indeterminate",),
    "deny": ("high_risk", "indeterminate"),
}


@dataclass(frozen=True)
class JudgedCall:
    """One tool call as a judge sees it."""

    name: str
    input: Mapping[str, object]
    kind: ToolKind = "builtin"
    #: the tool's resolved config: ``allowed_domains`` … for the web tools, the toolset entry for an MCP tool
    config: Mapping[str, object] = field(default_factory=lambda: dict[str, object]())


@dataclass(frozen=True)
class Verdict:
    """A judgement. ``rule`` names what decided it (for tests and logs; never written to the session)."""

    permission: Permission
    reason_code: DenyReason | None
    rule: str

    def __post_init__(self) -> None:
        if self.reason_code not in _REASONS[self.permission]:
            raise ValueError(f"a {self.permission} verdict cannot have reason_code {self.reason_code!r}")

    @classmethod
    def allow(cls, rule: str) -> Verdict:
        return cls("allow", None, rule)

    @classmethod
    def ask(cls, rule: str, reason_code: AskReason = "indeterminate") -> Verdict:
        return cls("ask", reason_code, rule)

    @classmethod
    def deny(cls, rule: str, reason_code: DenyReason = "high_risk") -> Verdict:
        return cls("deny", reason_code, rule)

    def evaluation(self) -> JSONObject:
        """The call event's ``evaluation`` field."""
        evaluated: JSONObject = {"type": self.permission}
        if self.reason_code is not None:
            evaluated["reason_code"] = self.reason_code
        return {"type": "auto", "evaluated_permission": evaluated}


class JudgeContext:
    """What a judge may know beyond the call: the session, and what its user asked for."""

    def __init__(self, session_id: str, events: Sequence[Event] = ()):
        self.session_id = session_id
        self._events = events

    def intent(self) -> list[str]:
        """The text of every ``user.message`` of the session, oldest first."""
        texts: list[str] = []
        for event in self._events:
            if event.type == "user.message":
                blocks: list[JSONObject] = event.data().get("content") or []
                texts.extend(str(block.get("text", "")) for block in blocks if block.get("type") == "text")
        return texts


class Judge(Protocol):
    """Decides calls under the ``auto`` policy."""

    async def judge(self, call: JudgedCall, context: JudgeContext) -> Verdict: ...


async def judged(judge: Judge, call: JudgedCall, context: JudgeContext) -> Verdict:
    """``judge``'s verdict on ``call``; a judge that raises gave no judgement, which is ``ask``."""
    try:
        return await judge.judge(call, context)
    except Exception:  # a judge is a plug-in: whatever it raises, the call waits for a person
        log.exception("session %s: the permission judge failed on %s", context.session_id, call.name)
        return Verdict.ask("judge_failed")
