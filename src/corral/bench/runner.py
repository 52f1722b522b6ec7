"""Running suites: shared services (PostgreSQL, scratch space), crash containment, files, console output.

Invariants:

* One suite's crash never stops the others; it is recorded as ``status = "crashed: …"`` with the traceback's
  tail in the notes, and the run's exit status says so.
* Every suite's JSON and plots land in ``out_dir``; the scratch directory and the PostgreSQL cluster the run
  started are removed at the end, whatever happened.
* Plotting is optional (matplotlib is the ``bench`` extra): without it the JSON is written all the same and each
  result notes that its plots were skipped.
"""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread

from corral.bench import cpu, environment
from corral.bench.machine import describe
from corral.bench.pgserver import PostgresSource
from corral.bench.results import SuiteResult, write
from corral.bench.suite import Context, Progress, SilentProgress, Suite
from corral.ids import now, rfc3339


def plots_missing() -> str | None:
    """Why this run draws no plots (None: it does)."""
    try:
        importlib.import_module("matplotlib")
    except ImportError:
        return "matplotlib is not installed (it comes with the `bench` extra: pip install 'corral[bench]')"
    return None


def _plot(result: SuiteResult, out_dir: Path) -> list[str]:
    if why := plots_missing():
        result.notes.append(f"no plots: {why}")
        return []
    from corral.bench import plots  # only now: it imports matplotlib

    return plots.render(result, out_dir)


def all_suites() -> dict[str, Suite]:
    from corral.bench.suites import (
        api,
        credentials,
        deployments,
        files,
        log,
        memory,
        recovery,
        sandbox,
        scale,
        snapshots,
        ttft,
        work,
    )

    suites = (
        log.SUITE,
        ttft.SUITE,
        api.SUITE,
        recovery.SUITE,
        sandbox.SUITE,
        credentials.SUITE,
        files.SUITE,
        memory.SUITE,
        snapshots.SUITE,
        deployments.SUITE,
        work.SUITE,
        scale.SUITE,
    )
    return {suite.name: suite for suite in suites}


@dataclass
class RunOptions:
    quick: bool
    out_dir: Path
    data_dir: Path
    postgres_url: str | None = None
    peer_python: Path | None = None
    seed: int = 20261126
    overrides: dict[str, Any] = field(default_factory=lambda: dict[str, Any]())


async def run_suites(names: Sequence[str], options: RunOptions, progress: Progress | None = None) -> list[SuiteResult]:
    """Run ``names`` in order. SIGTERM (or SIGINT) stops the run and still cleans up: the suites' children
    are stopped and a throwaway PostgreSQL cluster is removed; then ``SystemExit(143)`` (or 130)."""
    results: list[SuiteResult] = []
    stopped_by: list[int] = []
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with anyio.create_task_group() as tasks:

            async def stop_on_signal() -> None:
                async for signum in signals:
                    stopped_by.append(signum)
                    tasks.cancel_scope.cancel()
                    return

            tasks.start_soon(stop_on_signal)
            await _run_all(names, options, progress, results)
            tasks.cancel_scope.cancel()
    if stopped_by:
        raise SystemExit(128 + stopped_by[0])
    return results


async def _run_all(
    names: Sequence[str], options: RunOptions, progress: Progress | None, results: list[SuiteResult]
) -> None:
    suites = all_suites()
    data_dir = options.data_dir.resolve()  # database URLs and sandboxes need absolute paths
    (data_dir / "bench").mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=data_dir / "bench"))
    postgres = PostgresSource(options.postgres_url)
    try:
        await postgres.start()
        for name in names:
            ctx = Context(
                quick=options.quick,
                data_dir=data_dir,
                scratch=scratch / name,
                postgres=postgres,
                progress=progress or SilentProgress(),
                seed=options.seed,
                peer_python=options.peer_python,
                build_peers=not options.quick,
                overrides=options.overrides,
            )
            ctx.scratch.mkdir(parents=True)
            results.append(await _run_one(suites[name], ctx, options.out_dir))
    finally:
        with anyio.CancelScope(shield=True):  # a stopped run cleans up too
            await postgres.aclose()
            await anyio.to_thread.run_sync(lambda: shutil.rmtree(scratch, ignore_errors=True))


async def _run_one(suite: Suite, ctx: Context, out_dir: Path) -> SuiteResult:
    machine = await anyio.to_thread.run_sync(describe, ctx.data_dir)
    if ctx.postgres.settings:
        machine["postgres"] = dict(ctx.postgres.settings)
    result = SuiteResult(suite.name, ctx.quick, rfc3339(now()), machine=machine)
    result.params["needs"] = suite.needs
    result.environments["corral"] = await anyio.to_thread.run_sync(environment.own)
    began, cpu_start = time.monotonic(), await anyio.to_thread.run_sync(cpu.sample, ctx.postgres.server_pids())
    try:
        await suite.run(ctx, result)
    except Exception as exc:  # contain the crash: it becomes the suite's status
        result.status = f"crashed: {type(exc).__name__}: {exc}"[:500]
        result.notes.append("traceback: " + "".join(traceback.format_exc().splitlines(keepends=True)[-12:]))
    result.seconds = round(time.monotonic() - began, 2)
    cpu_end = await anyio.to_thread.run_sync(cpu.sample, ctx.postgres.server_pids())
    result.machine["other_cpu"] = cpu.other_cpu(cpu_start, cpu_end)
    result.machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result.plots = await anyio.to_thread.run_sync(_plot, result, out_dir)
    await anyio.to_thread.run_sync(write, result, out_dir)
    return result
