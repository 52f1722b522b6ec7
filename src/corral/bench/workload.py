"""The synthetic agent conversation that the ``log`` suite writes into every system.

Shape (after OpenHands' published SWE-Bench traces: median conversation 82 events, tool outputs most of
the bytes): a user message, then cycles of assistant text → tool call → tool output, a closing assistant
message, and again. Text sizes are lognormal; tool outputs are larger and heavy-tailed.

Invariants:

* Standard library only: the openhands-sdk peer loads this file in its own interpreter and generates the
  very same steps from the same seed (common random numbers across systems; the recovery figures check
  it by comparing digests of the rebuilt contexts).
* ``steps(seed, n)`` is a pure function of its arguments and yields exactly ``n`` steps.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

_WORDS = [
    "the",
    "session",
    "log",
    "is",
    "append",
    "only",
    "and",
    "every",
    "event",
    "has",
    "a",
    "position",
    "def",
    "return",
    "import",
    "class",
    "self",
    "for",
    "in",
    "if",
    "else",
    "None",
    "True",
    "False",
    "await",
    "async",
    "with",
    "open",
    "load",  # not "read" and "write": those are tool names, written in corral.vocab only (same lengths, so
    "print",  # the same draws and sizes as the workload had with them)
    "path",
    "file",
    "error",
    "warning",
    "test",
    "passed",
    "failed",
    "build",
    "src",
    "tests",
    "README.md",
    "setup.py",
    "main.py",
    "utils.py",
    "config",
    "json",
    "yaml",
    "http",
    "get",
    "post",
    "200",
    "404",
    "500",
    "line",
    "column",
    "traceback",
]
_CORPUS_CHARS = 1 << 20
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class Step:
    kind: str  # "user" | "assistant" | "tool_use" | "tool_result" (see corral.bench.context)
    text: str = ""
    id: str = ""  # tool_use: the call id (corral: the event id)
    tool_use_id: str = ""  # tool_result: the call it answers
    is_error: bool = False


def _corpus(rng: random.Random) -> str:
    parts: list[str] = []
    size = 0
    while size < _CORPUS_CHARS:
        line = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 14)))
        if rng.random() < 0.1:
            line = f'  File "{line[:20]}", line {rng.randint(1, 999)}, in <module>'
        parts.append(line)
        size += len(line) + 1
    return "\n".join(parts)


def _call_id(rng: random.Random) -> str:
    return "sevt_" + "".join(rng.choice(_ALPHABET) for _ in range(24))


class _Texts:
    def __init__(self, rng: random.Random, scale: float):
        self.rng = rng
        self.scale = scale
        self.corpus = _corpus(rng)

    def take(self, median: float, sigma: float, cap: int = 64 * 1024) -> str:
        length = max(1, min(cap, int(self.rng.lognormvariate(0.0, sigma) * median * self.scale)))
        start = self.rng.randrange(0, len(self.corpus) - length)
        return self.corpus[start : start + length]


def _turn(texts: _Texts, rng: random.Random) -> Iterator[Step]:
    yield Step("user", texts.take(300, 0.8))
    for _ in range(1 + int(rng.expovariate(1 / 8))):
        yield Step("assistant", texts.take(200, 0.8))
        call = _call_id(rng)
        yield Step("tool_use", texts.take(60, 0.6, cap=2000), id=call)
        yield Step("tool_result", texts.take(1200, 1.1), tool_use_id=call, is_error=rng.random() < 0.05)
    yield Step("assistant", texts.take(400, 0.8))


def steps(seed: int, n: int, *, scale: float = 1.0) -> Iterator[Step]:
    """``n`` steps of a conversation drawn from ``seed`` (``scale`` shrinks every text, e.g. 0.15)."""
    rng = random.Random(seed)
    texts = _Texts(rng, scale)
    made = 0
    while made < n:
        for step in _turn(texts, rng):
            yield step
            made += 1
            if made == n:
                return
