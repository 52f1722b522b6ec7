"""``corral chaos``: the seeded chaos harness (``corral.testing.chaos``) against a deployment it starts itself.

Thin by design: production code never imports the test doubles, so the command runs the harness as its own
process (``python -m corral.testing.chaos``) with the arguments given and exits with its status (0: every
invariant held; 1: one broke, with the seed and the command that replays it; 2: refused, e.g. a fault this
machine cannot do).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer


def chaos(
    engine: Annotated[str, typer.Option(help="sqlite or postgres (a PostgreSQL of the run's own).")] = "sqlite",
    seed: Annotated[int | None, typer.Option(help="The plan's seed (default: a fresh one, printed).")] = None,
    rounds: Annotated[int | None, typer.Option(help="Rounds of turns (default 4; with --soak: no limit).")] = None,
    sessions: Annotated[int, typer.Option(help="Sessions taking a turn each round.")] = 2,
    faults: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated among kill_api, kill_worker, pause_worker, kill_postgres, fill_sqlite_disk,"
            " fill_sandbox_disk (default: every one the engine has)."
        ),
    ] = None,
    soak: Annotated[bool, typer.Option("--soak", help="Run rounds until --duration has passed.")] = False,
    duration: Annotated[float, typer.Option(help="A soak's length in seconds.")] = 1800.0,
    root: Annotated[
        Path | None, typer.Option(help="Where the run's files go (default: a temporary directory).")
    ] = None,
) -> None:
    """Kill, pause and starve a deployment of corral while sessions run tools, then check nothing was lost,
    stuck, run twice or left behind."""
    argv = ["--engine", engine, "--sessions", str(sessions), "--duration", str(duration)]
    argv += [] if seed is None else ["--seed", str(seed)]
    argv += [] if rounds is None else ["--rounds", str(rounds)]
    argv += [] if faults is None else ["--faults", faults]
    argv += ["--soak"] if soak else []
    argv += [] if root is None else ["--root", str(root)]
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "corral.testing.chaos", *argv])
