"""Scripts for the scripted model servers: what to answer, when to fail, how fast to stream.

A script is plain JSON (so a subprocess server can load it)::

    {"replies": [{"content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn"}, ...],
     "rules": [{"system_contains": "Summarize", "reply": {...}}],
     "faults": [{"kind": "rate_limit", "at": 0, "times": 2, "retry_after": 0.05}],
     "latency": {"ttft": {"dist": "lognormal", "median": 0.7, "sigma": 0.5}, "tokens_per_second": 60, "seed": 1},
     "repeat_last": true}

Content blocks: ``{"type": "text", "text"}``, ``{"type": "thinking", "thinking", "signature"?}``,
``{"type": "tool_use", "name", "input"}``. ``stop_reason`` defaults to ``tool_use`` when a reply calls a
tool, else ``end_turn``; ``usage`` defaults to estimates from the request and reply sizes.

Invariants:

* The reply is chosen **from the request alone**: the first rule whose condition matches, else
  ``replies[n]`` where ``n`` is the number of assistant messages in the request. A run replayed after a
  crash asks the same questions and gets the same answers.
* Faults are the only server state: a fault applies to the next ``times`` requests that select reply
  ``at`` (any reply when ``at`` is omitted), then is used up. Kinds: ``rate_limit`` (429 + retry-after),
  ``server_error`` (500), ``overloaded`` (529 / 503), ``malformed`` (an unparsable SSE frame mid-stream),
  ``reset`` (TCP reset mid-stream), ``stream_error`` (an error event mid-stream), ``invalid_tool_json``
  (the reply's tool input streamed as broken JSON).
* Latency is seeded per request (seed, first user text, position), so two runs of one workload see the
  same time-to-first-token for the same turn (common random numbers across benchmark arms).
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field
from typing import Any

from corral._types import JSONObject

FAULT_KINDS = frozenset(
    {"rate_limit", "server_error", "overloaded", "malformed", "reset", "stream_error", "invalid_tool_json"}
)


@dataclass(frozen=True)
class Latency:
    ttft: JSONObject = field(default_factory=lambda: {"dist": "fixed", "seconds": 0.0})
    tokens_per_second: float | None = None
    seed: int = 0

    @classmethod
    def from_json(cls, data: JSONObject | None) -> Latency:
        data = data or {}
        return cls(
            dict(data.get("ttft") or {"dist": "fixed", "seconds": 0.0}),
            data.get("tokens_per_second"),
            int(data.get("seed", 0)),
        )

    def first_token_delay(self, rng: random.Random) -> float:
        dist = self.ttft.get("dist", "fixed")
        if dist == "lognormal":
            return rng.lognormvariate(math.log(float(self.ttft["median"])), float(self.ttft.get("sigma", 0.5)))
        if dist == "uniform":
            return rng.uniform(float(self.ttft["low"]), float(self.ttft["high"]))
        if dist == "exponential":
            return rng.expovariate(1.0 / float(self.ttft["mean"]))
        return float(self.ttft.get("seconds", 0.0))

    def token_gap(self) -> float:
        return 1.0 / self.tokens_per_second if self.tokens_per_second else 0.0


@dataclass(frozen=True)
class Reply:
    content: list[JSONObject]
    stop_reason: str | None = None
    usage: JSONObject | None = None
    latency: Latency | None = None

    @classmethod
    def from_json(cls, data: JSONObject) -> Reply:
        latency = Latency.from_json(data["latency"]) if data.get("latency") else None
        return cls(list(data.get("content") or []), data.get("stop_reason"), data.get("usage"), latency)

    @property
    def stop(self) -> str:
        if self.stop_reason:
            return self.stop_reason
        return "tool_use" if any(block.get("type") == "tool_use" for block in self.content) else "end_turn"


@dataclass(frozen=True)
class Rule:
    reply: Reply
    contains: str | None = None
    system_contains: str | None = None

    def matches(self, seen: Seen) -> bool:
        if self.contains is not None and self.contains not in seen.body_text:
            return False
        return self.system_contains is None or self.system_contains in seen.system_text


@dataclass(frozen=True)
class Fault:
    kind: str
    at: int | None = None
    times: int = 1
    retry_after: float | None = None
    #: for mid-stream faults: how many tokens are sent before the stream breaks
    after_tokens: int = 2


@dataclass(frozen=True)
class Seen:
    """What the script looks at in a request (both protocols reduce to this)."""

    protocol: str
    assistant_turns: int
    system_text: str
    body_text: str
    first_user_text: str
    model: str
    stream: bool


@dataclass
class Script:
    replies: list[Reply]
    rules: list[Rule] = field(default_factory=lambda: list[Rule]())
    faults: list[Fault] = field(default_factory=lambda: list[Fault]())
    latency: Latency = field(default_factory=Latency)
    repeat_last: bool = True
    _remaining: list[int] = field(default_factory=lambda: list[int](), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        for fault in self.faults:
            if fault.kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {fault.kind!r}; known: {sorted(FAULT_KINDS)}")
        self._remaining = [fault.times for fault in self.faults]

    @classmethod
    def from_json(cls, data: JSONObject) -> Script:
        rules = [
            Rule(Reply.from_json(r["reply"]), r.get("contains"), r.get("system_contains"))
            for r in data.get("rules") or []
        ]
        faults = [Fault(**fault) for fault in data.get("faults") or []]
        replies = [Reply.from_json(reply) for reply in data.get("replies") or []]
        return cls(replies, rules, faults, Latency.from_json(data.get("latency")), bool(data.get("repeat_last", True)))

    def select(self, seen: Seen) -> tuple[int, Reply | None]:
        """``(position, reply)``; rules report position -1; None when the script has no answer."""
        for rule in self.rules:
            if rule.matches(seen):
                return -1, rule.reply
        index = seen.assistant_turns
        if index < len(self.replies):
            return index, self.replies[index]
        if self.repeat_last and self.replies:
            return index, self.replies[-1]
        return index, None

    def take_fault(self, position: int) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self.faults):
                if self._remaining[i] > 0 and (fault.at is None or fault.at == position):
                    self._remaining[i] -= 1
                    return fault
        return None

    def rng(self, seen: Seen, position: int) -> random.Random:
        return random.Random(f"{self.latency.seed}|{seen.first_user_text}|{position}")

    def latency_for(self, reply: Reply) -> Latency:
        return reply.latency or self.latency


# ---------------------------------------------------------------------------------------------- builders


def text(value: str) -> JSONObject:
    return {"type": "text", "text": value}


def thinking(value: str, signature: str = "sig") -> JSONObject:
    return {"type": "thinking", "thinking": value, "signature": signature}


def tool_use(name: str, input: JSONObject) -> JSONObject:
    return {"type": "tool_use", "name": name, "input": input}


def reply(*content: JSONObject, stop_reason: str | None = None, usage: JSONObject | None = None) -> JSONObject:
    out: dict[str, Any] = {"content": list(content)}
    if stop_reason is not None:
        out["stop_reason"] = stop_reason
    if usage is not None:
        out["usage"] = usage
    return out
