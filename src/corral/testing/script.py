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
  (the reply's tool input streamed as broken JSON). A status fault's ``message`` replaces the provider's usual
  error text (e.g. one that quotes the key a client sent).
* Latency is seeded per request (seed, first user text, position), so two runs of one workload see the
  same time-to-first-token for the same turn (common random numbers across benchmark arms).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, NotRequired, TypedDict, cast

from corral._types import JSONObject

FAULT_KINDS = frozenset(
    {"rate_limit", "server_error", "overloaded", "malformed", "reset", "stream_error", "invalid_tool_json"}
)

# ------------------------------------------------------------------------------------- the JSON format


class TextBlock(TypedDict):
    type: Literal["text"]
    text: str


class ThinkingBlock(TypedDict):
    type: Literal["thinking"]
    thinking: str
    signature: NotRequired[str]


class ToolUseBlock(TypedDict):
    type: Literal["tool_use"]
    name: str
    input: JSONObject


ContentBlock = TextBlock | ThinkingBlock | ToolUseBlock


class Usage(TypedDict, total=False):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int


class TTFT(TypedDict, total=False):
    """``dist`` is ``fixed`` (``seconds``), ``lognormal`` (``median``, ``sigma``), ``uniform`` (``low``,
    ``high``) or ``exponential`` (``mean``)."""

    dist: Literal["fixed", "lognormal", "uniform", "exponential"]
    seconds: float
    median: float
    sigma: float
    low: float
    high: float
    mean: float


class LatencyJSON(TypedDict, total=False):
    ttft: TTFT
    tokens_per_second: float
    seed: int


class ReplyJSON(TypedDict):
    content: list[ContentBlock]
    stop_reason: NotRequired[str]
    usage: NotRequired[Usage]
    latency: NotRequired[LatencyJSON]


class RuleJSON(TypedDict):
    reply: ReplyJSON
    contains: NotRequired[str]
    system_contains: NotRequired[str]


class FaultJSON(TypedDict):
    kind: str
    at: NotRequired[int]
    times: NotRequired[int]
    retry_after: NotRequired[float]
    after_tokens: NotRequired[int]
    message: NotRequired[str]


class ScriptJSON(TypedDict, total=False):
    replies: list[ReplyJSON]
    rules: list[RuleJSON]
    faults: list[FaultJSON]
    latency: LatencyJSON
    repeat_last: bool


# ------------------------------------------------------------------------------------- the parsed script


def _fixed_zero() -> TTFT:
    return {"dist": "fixed", "seconds": 0.0}


def _needed(ttft: TTFT, key: Literal["median", "low", "high", "mean"]) -> float:
    """A parameter the distribution cannot do without (missing: ``KeyError``, the script is broken)."""
    value = ttft.get(key)
    if value is None:
        raise KeyError(key)
    return float(value)


@dataclass(frozen=True)
class Latency:
    ttft: TTFT = field(default_factory=_fixed_zero)
    tokens_per_second: float | None = None
    seed: int = 0

    @classmethod
    def from_json(cls, data: LatencyJSON | None) -> Latency:
        data = data or {}
        ttft: TTFT = {**(data.get("ttft") or _fixed_zero())}  # a copy: the script's dict may change later
        return cls(ttft, data.get("tokens_per_second"), int(data.get("seed", 0)))

    def first_token_delay(self, rng: random.Random) -> float:
        ttft = self.ttft
        dist = ttft.get("dist", "fixed")
        if dist == "lognormal":
            return rng.lognormvariate(math.log(_needed(ttft, "median")), float(ttft.get("sigma", 0.5)))
        if dist == "uniform":
            return rng.uniform(_needed(ttft, "low"), _needed(ttft, "high"))
        if dist == "exponential":
            return rng.expovariate(1.0 / _needed(ttft, "mean"))
        return float(ttft.get("seconds", 0.0))

    def token_gap(self) -> float:
        return 1.0 / self.tokens_per_second if self.tokens_per_second else 0.0


@dataclass(frozen=True)
class Reply:
    content: list[ContentBlock]
    stop_reason: str | None = None
    usage: Usage | None = None
    latency: Latency | None = None

    @classmethod
    def from_json(cls, data: ReplyJSON) -> Reply:
        latency = data.get("latency")
        timing = Latency.from_json(latency) if latency else None
        return cls(list(data.get("content") or []), data.get("stop_reason"), data.get("usage"), timing)

    @property
    def stop(self) -> str:
        if self.stop_reason:
            return self.stop_reason
        return "tool_use" if any(block["type"] == "tool_use" for block in self.content) else "end_turn"


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
    #: for status faults: the error message instead of the provider's usual one
    message: str | None = None


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
    def from_json(cls, raw: Mapping[str, object]) -> Script:
        """A script from its JSON form (a file, a ``PUT /_scripted/script`` body or a test's dict literal):
        the one place where untyped JSON is taken to be in the format above."""
        data = cast(ScriptJSON, raw)
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


def text(value: str) -> TextBlock:
    return {"type": "text", "text": value}


def thinking(value: str, signature: str = "sig") -> ThinkingBlock:
    return {"type": "thinking", "thinking": value, "signature": signature}


def tool_use(name: str, input: JSONObject) -> ToolUseBlock:
    return {"type": "tool_use", "name": name, "input": input}


def reply(*content: ContentBlock, stop_reason: str | None = None, usage: Usage | None = None) -> ReplyJSON:
    out: ReplyJSON = {"content": list(content)}
    if stop_reason is not None:
        out["stop_reason"] = stop_reason
    if usage is not None:
        out["usage"] = usage
    return out
