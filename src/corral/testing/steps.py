"""Gated ``bash`` steps whose every execution is counted: the ledger that proves no tool call ran twice.

Step ``n`` of a session (``step(n)``) appends one random line to ``runs-<n>.log`` in the session's workspace (one
line per execution: the side effect counted), touches ``started-<n>`` (the call is in flight, visible from the
host), waits for ``go-<n>`` (written from outside with ``release``, when the caller wants the call to return),
then writes ``kept-<n>.txt`` and ``data-<n>.bin`` (``DATA_BYTES``: enough that a full disk refuses it).

``script(turns)`` is the scripted model's side (``corral.testing.script``): turn ``n`` asks for step ``n``, then
ends with a text. Replies are chosen by the number of assistant messages so far, so a turn replayed after a crash
asks for the same step.

Invariant: the lines of ``runs-<n>.log`` are random, so a workspace restored from a copy repeats lines but never
adds one; ``executions`` counts distinct lines over every copy given.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from corral.testing.script import ScriptJSON, reply, text, tool_use
from corral.vocab.tools import BASH

DATA_BYTES = 256 * 1024


def step(n: int) -> str:
    """The bash command of step ``n``."""
    return (
        f"echo $(head -c8 /dev/urandom | od -An -tx1 | tr -d ' ') >> runs-{n}.log && touch started-{n} && "
        f"until [ -e go-{n} ]; do sleep 0.02; done && echo {n} > kept-{n}.txt && "
        f"head -c {DATA_BYTES} /dev/urandom > data-{n}.bin && echo step {n} done"
    )


def script(turns: int) -> ScriptJSON:
    """A scripted model's script for sessions of up to ``turns`` turns, one step each."""
    replies = [
        part
        for n in range(1, turns + 1)
        for part in (reply(tool_use(BASH, {"command": step(n)})), reply(text(f"turn {n} done")))
    ]
    return {"replies": replies, "repeat_last": True}


def started(workspace: Path, n: int) -> bool:
    return (workspace / f"started-{n}").exists()


def release(workspace: Path, n: int) -> None:
    """Let step ``n`` return (now, or at once when it starts later); nothing to do where no sandbox ever ran."""
    if workspace.is_dir():
        (workspace / f"go-{n}").touch()


def executions(workspaces: Iterable[Path], n: int) -> set[str]:
    """The distinct executions of step ``n`` recorded in any of ``workspaces`` (copies of one session's)."""
    lines: set[str] = set()
    for workspace in workspaces:
        log = workspace / f"runs-{n}.log"
        if log.exists():
            lines |= set(log.read_text().split())
    return lines
