"""A whole conformance run: every engine, the verdicts, ``PARITY.md`` and the baseline check (the ``run`` command of
``python -m tools.conformance``).

The engines run at the same time, each on its own server. ``PARITY.md`` is written only by a run of both engines
(its table has a column for each). Exit status: 0 when nothing that passed before got worse, 1 otherwise (each
regression is printed).
"""

from __future__ import annotations

import functools
import shutil
import time
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from tools.conformance.classify import MethodResult, Routes, TestVerdict, by_method, verdict_of
from tools.conformance.engine import REPO, EngineRun, run_engine
from tools.conformance.report import (
    ENGINE_NAMES,
    baseline_of,
    compare,
    load_baseline,
    parity,
    write_baseline,
)
from tools.conformance.sdk import CACHE, fetch, installed_version
from tools.conformance.server import postgres_database
from tools.conformance.surface import Method, other_tests, sdk_methods

PARITY = REPO / "PARITY.md"
SCRATCH = CACHE / "last-run"


@contextmanager
def _database(engine: str, scratch: Path, postgres_url: str | None) -> Generator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{scratch / 'corral.db'}"
        return
    if not postgres_url:
        raise SystemExit("conformance: no PostgreSQL server: pass --postgres-url or set CORRAL_TEST_POSTGRES_URL")
    with postgres_database(postgres_url) as url:
        yield url


def _run(engine: str, sdk_root: Path, postgres_url: str | None) -> EngineRun:
    scratch = SCRATCH / engine
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    with _database(engine, scratch, postgres_url) as db_url:
        return run_engine(engine, db_url, sdk_root, scratch)


def _print_engine(run: EngineRun, tests: list[TestVerdict], results: dict[Method, MethodResult]) -> None:
    passing = sum(result.status == "passes" for result in results.values())
    passed = sum(result.passed for result in results.values())
    reached = sum(result.reached for result in results.values())
    print(
        f"conformance: {ENGINE_NAMES[run.engine]}: {passing} of {len(results)} methods pass, "
        f"{passed} of {reached} tests that reached corral pass ({run.seconds:.0f} s; logs in {SCRATCH / run.engine})"
    )
    for test in tests:
        if test.method is None:
            print(f"  UNMAPPED {test.nodeid}: names no method of the SDK (left out of PARITY.md)")
        elif test.verdict == "failed":
            print(f"  FAIL {test.nodeid}: {test.detail.splitlines()[0] if test.detail else '?'}")


def _check(results: dict[str, dict[Method, MethodResult]], version: str, update: bool) -> int:
    baseline = load_baseline()
    if update:
        write_baseline(baseline_of(results, version))
        print("conformance: baseline updated (tools/conformance/baseline.json)")
        return 0
    if baseline.get("sdk") != version:
        print(f"conformance: the baseline was recorded with anthropic {baseline.get('sdk')}, this run uses {version}")
    comparison = compare(baseline, results)
    for line in comparison.regressions:
        print(f"  REGRESSION {line}")
    if comparison.improvements:
        print(f"conformance: {len(comparison.improvements)} better than the baseline; record them with")
        print("  script/conformance --update-baseline")
        for line in comparison.improvements:
            print(f"  better: {line}")
    return 1 if comparison.regressions else 0


def run(engines: list[str], postgres_url: str | None, update_baseline: bool) -> int:
    version = installed_version()
    sdk_root = fetch(version)
    methods = sdk_methods()
    started = time.monotonic()
    # The engines run side by side: each is two child processes (server, pytest) waiting on each other over
    # loopback, so on an otherwise idle machine the two runs take about the time of one.
    with ThreadPoolExecutor(max_workers=len(engines)) as pool:
        runs = list(pool.map(functools.partial(_run, sdk_root=sdk_root, postgres_url=postgres_url), engines))
    print(f"conformance: {', '.join(ENGINE_NAMES[e] for e in engines)} in {time.monotonic() - started:.0f} s")
    results: dict[str, dict[Method, MethodResult]] = {}
    for done in runs:
        engine = done.engine
        tests = [verdict_of(record, Routes(done.routes), frozenset(methods)) for record in done.records]
        results[engine] = by_method(tests, methods)
        _print_engine(done, tests, results[engine])
    if set(results) == set(ENGINE_NAMES):
        PARITY.write_text(parity(results, version, other_tests(sdk_root, methods)))
        print(f"conformance: wrote {PARITY.relative_to(REPO)}")
    return _check(results, version, update_baseline)
