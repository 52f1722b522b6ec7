"""What a benchmark suite is and what it gets to run with.

A suite is an async function ``run(ctx, result)`` that fills a ``SuiteResult``: arms with metrics (or a
"not measured: <why>" status), hard-invariant checks and notes. The runner owns timing, crash handling,
plots and files.

Invariants:

* A suite never decides that a timing "failed": it reports figures; targets are judged in the report.
* A missing optional component from outside corral makes an *arm* "not measured"; corral's own modules are
  imported directly, so a missing one, like a bug in the suite, makes it crash.
* Everything a suite writes goes below ``ctx.scratch``, which the runner deletes afterwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from corral.bench.pgserver import PostgresSource
from corral.bench.results import SuiteResult

T = TypeVar("T")


class Progress(Protocol):
    def task(self, label: str, total: int) -> Callable[[int], None]:
        """Start a progress line; the returned function advances it."""
        ...


class SilentProgress:
    def task(self, label: str, total: int) -> Callable[[int], None]:
        return lambda _steps: None


@dataclass
class Context:
    quick: bool
    data_dir: Path
    scratch: Path
    postgres: PostgresSource
    progress: Progress = field(default_factory=SilentProgress)
    seed: int = 20261126
    peer_python: Path | None = None
    build_peers: bool = True
    #: suite parameter overrides (tests use tiny sizes): ``{"log.emit": 50, "log.slices": [200], ...}``
    overrides: dict[str, Any] = field(default_factory=lambda: dict[str, Any]())

    def pick(self, key: str, quick: T, full: T) -> T:
        """The parameter ``key``: an override if given, else its ``--quick`` or full-run value."""
        return self.overrides.get(key, quick if self.quick else full)


@dataclass(frozen=True)
class Suite:
    name: str
    needs: str  # what it runs against (recorded with its results)
    run: Callable[[Context, SuiteResult], Awaitable[None]]
