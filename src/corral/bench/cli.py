"""``corral bench [SUITE…] [--quick]`` and ``corral bench report``: argument handling and console output.

Invariants:

* The exit status is non-zero only when a suite crashed or a hard invariant broke (a lost event, a double
  execution), never because of a timing: timings are judged against targets in BENCHMARKS.md.
* ``--quick`` results go to ``benchmarks/results/quick/`` so a smoke run never overwrites a full run's
  figures; BENCHMARKS.md is regenerated only from a full run (or on demand with ``report``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

DEFAULT_OUT = Path("benchmarks/results")
REPORT_FILE = Path("BENCHMARKS.md")
SUITE_NAMES = (
    "log",
    "ttft",
    "api",
    "recovery",
    "sandbox",
    "credentials",
    "files",
    "memory",
    "snapshots",
    "deployments",
    "work",
    "scale",
)


def bench(
    suites: Annotated[
        list[str] | None, typer.Argument(help=f"Suites to run ({', '.join(SUITE_NAMES)}; default: all) or 'report'.")
    ] = None,
    quick: Annotated[bool, typer.Option(help="Small sizes for a smoke run (under 2 minutes).")] = False,
    out: Annotated[Path | None, typer.Option(help="Where JSON and plots go (default benchmarks/results).")] = None,
    postgres_url: Annotated[
        str | None, typer.Option(help="Use this PostgreSQL server (default: start a throwaway one).")
    ] = None,
    peer_python: Annotated[Path | None, typer.Option(help="A Python >= 3.12 for the openhands-sdk peer.")] = None,
    report: Annotated[
        bool | None, typer.Option(help="Regenerate BENCHMARKS.md afterwards (default: after a full run).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help='Override a suite parameter, KEY=JSON (e.g. --set "api.sessions=[1,50]").'),
    ] = None,
) -> None:
    """Benchmarks against real processes; JSON and PNG plots in benchmarks/results/, tables in BENCHMARKS.md."""
    from corral.bench.console import regenerate_report, run_and_print

    names = list(suites or [])
    out_dir = out or (DEFAULT_OUT / "quick" if quick else DEFAULT_OUT)
    if names == ["report"]:
        regenerate_report(out or DEFAULT_OUT, REPORT_FILE)
        return
    unknown = [n for n in names if n not in SUITE_NAMES]
    if unknown:
        raise typer.BadParameter(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITE_NAMES)}")
    broken = run_and_print(
        names or list(SUITE_NAMES),
        quick=quick,
        out_dir=out_dir,
        postgres_url=postgres_url,
        peer_python=peer_python,
        overrides=_overrides(set_ or []),
    )
    if report if report is not None else not quick:
        regenerate_report(out_dir, REPORT_FILE)
    if broken:
        raise typer.Exit(1)


def _overrides(pairs: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            found[key.strip()] = json.loads(value)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"--set {pair!r}: the value must be JSON ({exc})") from exc
    return found


def main() -> None:
    typer.run(bench)
