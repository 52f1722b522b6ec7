"""PNG plots of a suite's results (matplotlib, Agg backend), written next to its JSON file.

Invariants: plots are drawn only from the ``SuiteResult`` (never from live state), so ``corral bench
report`` could redraw them from the JSON; a plotting failure never loses the JSON (it is written after).
Runs in a worker thread (matplotlib is CPU-bound).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from corral.bench.results import SuiteResult

_FAMILY = re.compile(r"^(?P<family>[a-z_]+)@(?P<size>\d+)\.p50$")


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
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
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
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
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
    metrics = [m for m in arm.metrics if m.value is not None] if arm is not None else []
    if not metrics:
        return None
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(metrics) + 1.2))
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
    fig.tight_layout()
    fig.savefig(out_dir / name, dpi=110)
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
