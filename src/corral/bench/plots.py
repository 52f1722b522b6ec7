"""PNG plots of a suite's results (matplotlib, Agg backend), written next to its JSON file.

matplotlib is the optional ``bench`` extra: the runner imports this module only when matplotlib is installed
(``corral bench`` without it writes no plots and says so).

Invariants: plots are drawn only from the ``SuiteResult`` (never from live state), so ``corral bench
report`` could redraw them from the JSON; a plotting failure never loses the JSON (it is written after).
Runs in a worker thread (matplotlib is CPU-bound).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from corral.bench.results import SuiteResult

_FAMILY = re.compile(r"^(?P<family>[a-z_]+)@(?P<size>\d+)\.p50$")

Errors = Sequence[Sequence[float]]  # below, above each value


class _Axes(Protocol):
    """The part of matplotlib's ``Axes`` drawn with here. matplotlib's stubs leave ``**kwargs`` unannotated, so
    every call through them would be partly unknown to the type checker: the keywords we pass are declared here."""

    def plot(self, x: ArrayLike, y: ArrayLike, *, label: str, linewidth: float) -> object: ...
    def errorbar(
        self, x: ArrayLike, y: ArrayLike, yerr: Errors, *, marker: str, capsize: float, label: str
    ) -> object: ...
    def barh(self, y: ArrayLike, width: ArrayLike, *, xerr: Errors, capsize: float, color: str) -> object: ...
    def axvline(self, x: float, *, color: str, linewidth: float) -> object: ...
    def set_xscale(self, value: str) -> None: ...
    def set_yscale(self, value: str) -> None: ...
    def set_xlabel(self, xlabel: str) -> object: ...
    def set_ylabel(self, ylabel: str) -> object: ...
    def set_title(self, label: str) -> object: ...
    def set_yticks(self, ticks: ArrayLike, labels: Sequence[str], *, fontsize: float) -> object: ...
    def grid(self, visible: bool, which: Literal["major", "minor", "both"], *, alpha: float) -> None: ...
    def legend(self, *, fontsize: float) -> object: ...


class _Saving(Protocol):
    def tight_layout(self) -> None: ...
    def savefig(self, fname: Path, *, dpi: float) -> None: ...


def _write(fig: _Saving, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _figure(width: float, height: float) -> tuple[Figure, _Axes]:
    fig, ax = plt.subplots(figsize=(width, height))
    return fig, ax


def _name(suite: str, key: str) -> str:
    return f"{suite}-{re.sub(r'[^a-z0-9]+', '-', key.lower()).strip('-')}.png"


def _ecdf(result: SuiteResult, key: str, out_dir: Path) -> str | None:
    lines = [
        (f"{arm.name} ({k})" if k != key else arm.name, values)
        for arm in result.arms
        for k, values in arm.samples.items()
        if values and (k == key or (key == "emit" and k == "append_event"))
    ]
    if not lines:
        return None
    fig, ax = _figure(7.5, 4.2)
    for label, values in lines:
        data = np.sort(np.asarray(values))
        ax.plot(data, np.arange(1, len(data) + 1) / len(data), label=label, linewidth=1.4)
    positive = all(min(values) > 0 for _, values in lines)
    ax.set_xscale("log" if positive else "linear")
    ax.set_xlabel("milliseconds" + (" (log scale)" if positive else ""))
    ax.set_ylabel("fraction of calls ≤ x")
    ax.set_title(f"{result.suite}: {key} — latency distribution")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out_dir, _name(result.suite, key))


def _scaling(result: SuiteResult, family: str, out_dir: Path) -> str | None:
    series: dict[str, list[tuple[int, float, float, float]]] = defaultdict(list)
    for arm in result.arms:
        for metric in arm.metrics:
            match = _FAMILY.match(metric.key)
            if match and match["family"] == family and metric.value is not None:
                low, high = metric.low or metric.value, metric.high or metric.value
                series[arm.name].append((int(match["size"]), metric.value, low, high))
    if sum(len(points) >= 2 for points in series.values()) == 0:
        return None
    fig, ax = _figure(7.5, 4.2)
    for name, points in sorted(series.items()):
        points.sort()
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        err = [[p[1] - p[2] for p in points], [p[3] - p[1] for p in points]]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("events in the session")
    ax.set_ylabel("p50 (ms, log scale)")
    ax.set_title(f"{result.suite}: {family} p50 vs session size (95% CI)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out_dir, _name(result.suite, f"{family}-scaling"))


def _ratios(result: SuiteResult, out_dir: Path) -> str | None:
    arm = result.arm("ratios")
    # a spread (the lowest and highest seed of a median over seeds) is not a ratio of its own
    spread = (".min", ".max")
    metrics = [m for m in arm.metrics if m.value is not None and not m.key.endswith(spread)] if arm else []
    if not metrics:
        return None
    fig, ax = _figure(8.5, 0.45 * len(metrics) + 1.2)
    ys = np.arange(len(metrics))
    values = [m.value or 0.0 for m in metrics]
    err = [
        [(m.value or 0) - (m.low or m.value or 0) for m in metrics],
        [(m.high or m.value or 0) - (m.value or 0) for m in metrics],
    ]
    ax.barh(ys, values, xerr=err, capsize=3, color="#4c72b0")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(ys, [m.key for m in metrics], fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("ratio (log scale; < 1: corral is faster)")
    ax.set_title(f"{result.suite}: ratios with 95% bootstrap intervals")
    return _save(fig, out_dir, _name(result.suite, "ratios"))


def _save(fig: Figure, out_dir: Path, name: str) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(fig, out_dir / name)
    plt.close(fig)
    return name


def render(result: SuiteResult, out_dir: Path) -> list[str]:
    """Draw every plot the result has data for; returns the file names (relative to ``out_dir``)."""
    keys = sorted({k for arm in result.arms for k in arm.samples if k != "append_event"})
    families = sorted({m["family"] for arm in result.arms for x in arm.metrics if (m := _FAMILY.match(x.key))})
    drawn = [_ecdf(result, key, out_dir) for key in keys]
    drawn += [_scaling(result, family, out_dir) for family in families]
    drawn.append(_ratios(result, out_dir))
    return [name for name in drawn if name is not None]
