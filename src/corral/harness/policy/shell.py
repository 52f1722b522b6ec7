"""A bash command as the rule set reads it: pipelines of simple commands (words and redirections).

Not a bash parser: ``shlex`` words (POSIX quoting), cut at the control operators (``;`` ``&&`` ``||`` ``&``
``|`` newlines, parentheses). What it keeps is the direction of every mistake:

* A command ``shlex`` cannot read (an unclosed quote …), or one of more than ``MAX_COMMANDS`` simple commands,
  parses to ``None``, which no rule calls safe.
* Cutting too often is harmless: a quoted operator (``echo ";"``) ends a command here, so the rules see more,
  shorter commands, and may refuse something harmless, never admit something they did not look at.
* ``#`` is a word, not a comment (bash's comment rules are subtle), so text after it is still judged.
* Command substitutions (``$(…)``, backquotes, ``<(…)``, ``>(…)``) are found in the raw text, quotes or not,
  and returned for the rules to judge as commands of their own (``substitutions``).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from functools import lru_cache

_OPERATOR_CHARS = "();<>|&\n"
_MAX_DEPTH = 4
MAX_COMMANDS = 256
"""A text with more simple commands than this is not read (bounded work; real commands have far fewer)."""


@dataclass(frozen=True)
class Redirect:
    op: str
    target: str

    @property
    def writes(self) -> bool:
        """Whether it opens ``target`` for writing (``>&2`` and the like only copy a descriptor)."""
        if self.op.startswith("<") and self.op != "<>":
            return False
        return not (self.op.endswith("&") and re.fullmatch(r"\d+|-", self.target))


@dataclass(frozen=True)
class Simple:
    words: tuple[str, ...]
    redirects: tuple[Redirect, ...] = ()


Pipeline = tuple[Simple, ...]


@lru_cache(maxsize=256)
def parse(command: str) -> tuple[Pipeline, ...] | None:
    """The pipelines of ``command``, or None when it cannot be read (cached: the rules read a text more than
    once, and substitutions repeat in nested texts)."""
    tokens = _tokens(command)
    if tokens is None:
        return None
    builder = _Builder()
    for token in tokens:
        if not builder.feed(token) or builder.count > MAX_COMMANDS:
            return None
    return builder.finish()


def _tokens(command: str) -> list[str] | None:
    lexer = shlex.shlex(command.replace("\\\n", ""), posix=True, punctuation_chars=_OPERATOR_CHARS)
    lexer.whitespace = " \t\r"  # a newline ends a command: it is an operator here, not blank space
    lexer.commenters = ""
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:
        return None


class _Builder:
    def __init__(self) -> None:
        self.pipelines: list[Pipeline] = []
        self.pipeline: list[Simple] = []
        self.words: list[str] = []
        self.redirects: list[Redirect] = []
        self.pending: str | None = None
        self.count = 0

    def feed(self, token: str) -> bool:
        if self.pending is not None:
            self.redirects.append(Redirect(self.pending, token))
            self.pending = None
        elif token and all(char in _OPERATOR_CHARS for char in token):
            return self._operator(token)
        else:
            self.words.append(token)
        return True

    def _operator(self, token: str) -> bool:
        core = token.replace("\n", "")
        if core in ("<(", ">("):  # process substitution: its body is a command of its own
            self._end_pipeline()
        elif "<" in core or ">" in core:
            if "\n" in token or any(char in core for char in "();|"):
                return False
            self.pending = core
        elif core in ("|", "|&"):
            self._end_simple()
        else:
            self._end_pipeline()
        return True

    def _end_simple(self) -> None:
        if self.words or self.redirects:
            self.pipeline.append(Simple(tuple(self.words), tuple(self.redirects)))
            self.count += 1
        self.words, self.redirects = [], []

    def _end_pipeline(self) -> None:
        self._end_simple()
        if self.pipeline:
            self.pipelines.append(tuple(self.pipeline))
        self.pipeline = []

    def finish(self) -> tuple[Pipeline, ...] | None:
        self._end_pipeline()
        if self.pending is not None or self.count > MAX_COMMANDS:
            return None
        return tuple(self.pipelines)


@lru_cache(maxsize=256)
def substitutions(command: str) -> tuple[str, ...]:
    """The bodies of every ``$(…)``, ``<(…)``, ``>(…)`` and backquoted part of ``command`` (outermost first)."""
    bodies: list[str] = []
    index = 0
    while index < len(command):
        if command.startswith(("$(", "<(", ">("), index):
            end = _closing(command, index + 2)
            bodies.append(command[index + 2 : end])
            index = end + 1
        elif command[index] == "`":
            end = command.find("`", index + 1)
            end = len(command) if end < 0 else end
            bodies.append(command[index + 1 : end])
            index = end + 1
        else:
            index += 1
    return tuple(bodies)


def _closing(command: str, start: int) -> int:
    depth = 1
    for index in range(start, len(command)):
        if command[index] == "(":
            depth += 1
        elif command[index] == ")":
            depth -= 1
            if depth == 0:
                return index
    return len(command)


def nested(command: str, depth: int = 0) -> list[str] | None:
    """``command`` and every substitution inside it, however deep; None past ``_MAX_DEPTH`` levels (the rules
    then decline to judge)."""
    if depth > _MAX_DEPTH:
        return None
    found = [command]
    for body in substitutions(command):
        inner = nested(body, depth + 1)
        if inner is None:
            return None
        found += inner
    return found
