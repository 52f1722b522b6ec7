"""Console side of ``corral bench``: a rich progress bar while suites run, a table of figures after each.

Invariant: this module only presents; measuring happens in the suites, judging in ``corral.bench.report``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from corral.bench.results import SuiteResult
from corral.bench.runner import RunOptions, plots_missing, run_suites
from corral.config import load_settings

console = Console()


class RichProgress:
    def __init__(self, progress: Progress):
        self.progress = progress

    def task(self, label: str, total: int) -> Callable[[int], None]:
        task_id = self.progress.add_task(label, total=max(total, 1))
        return lambda steps: self.progress.advance(task_id, steps)


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def table(result: SuiteResult) -> Table:
    out = Table(
        title=f"{result.suite} ({'quick' if result.quick else 'full'}, {result.seconds:.0f} s): {result.status}"
    )
    for column in ("arm", "metric", "value", "95% CI", "n"):
        out.add_column(column, justify="right" if column in {"value", "n"} else "left")
    for arm in result.arms:
        if not arm.ok:
            out.add_row(arm.name, f"[yellow]{escape(arm.status)}[/]", "", "", "")
            continue
        for metric in arm.metrics:
            ci = f"{_fmt(metric.low)} – {_fmt(metric.high)}" if metric.low is not None else ""
            out.add_row(arm.name, metric.label, f"{_fmt(metric.value)} {metric.unit}", ci, str(metric.n or ""))
    for check in result.checks:
        out.add_row("invariant", check.name, "[green]holds[/]" if check.ok else "[red]BROKEN[/]", check.detail, "")
    return out


def run_and_print(
    names: list[str],
    *,
    quick: bool,
    out_dir: Path,
    postgres_url: str | None,
    peer_python: Path | None,
    overrides: dict[str, Any],
) -> list[str]:
    """Run the suites, print their tables; returns what broke (crashes, violated invariants)."""
    settings = load_settings()
    options = RunOptions(
        quick, out_dir, settings.data_dir, postgres_url=postgres_url, peer_python=peer_python, overrides=overrides
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        results = anyio.run(run_suites, names, options, RichProgress(progress))
    broken: list[str] = []
    for result in results:
        console.print(table(result))
        broken += result.broken
    console.print(f"results: {out_dir}/")
    if why := plots_missing():
        console.print(f"[yellow]no plots: {escape(why)}[/]")
    for reason in broken:
        console.print(f"[red]{escape(reason)}[/]")
    return broken


def regenerate_report(results_dir: Path, report_file: Path) -> None:
    from corral.bench.report import write_report

    write_report(results_dir, report_file)
    console.print(f"wrote {report_file} from {results_dir}/")
