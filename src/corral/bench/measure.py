"""Helpers every suite uses: interleaved rounds (arms compared within one run) and metric recording.

Invariants:

* ``interleave`` runs every arm once per round, rotating the order each round, so a burst of load from
  other processes on a shared machine hits all arms alike instead of biasing one.
* An arm whose call raises is recorded as failed (with the error) and leaves the rotation; the others go on.
* Latency metrics are stored in milliseconds with 95% bootstrap intervals; raw samples are thinned for
  the JSON file and the plots.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from contextlib import contextmanager

from corral.bench import stats
from corral.bench.results import Arm, Metric, SuiteResult
from corral.bench.suite import Context

Call = Callable[[], Awaitable[list[float]]]
QUANTILES = ((0.5, "p50"), (0.95, "p95"), (0.99, "p99"))


async def interleave(
    ctx: Context, label: str, calls: Mapping[str, Call], rounds: int
) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Samples per arm name, and the failures (arm name → error) of arms that raised."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    failed: dict[str, str] = {}
    names = list(calls)
    tick = ctx.progress.task(label, rounds * len(names))
    for index in range(rounds):
        shift = index % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            if name in failed:
                tick(1)
                continue
            try:
                samples[name].extend(await calls[name]())
            except Exception as exc:  # one arm's failure is a result, not the end of the suite
                failed[name] = f"{type(exc).__name__}: {exc}"[:300]
            tick(1)
    return samples, failed


def add_latency(
    arm: Arm, key: str, label: str, seconds: Sequence[float], quantiles: Sequence[tuple[float, str]] = QUANTILES
) -> None:
    """``<key>.p50`` … in ms (with CIs), and the thinned samples under ``samples[key]``."""
    if not seconds:
        return
    millis = [s * 1000.0 for s in seconds]
    for q, name in quantiles:
        # the bootstrap says nothing useful about a maximum
        estimate = stats.quantile_ci(millis, q) if q < 1.0 else stats.Estimate(max(millis))
        arm.add(Metric.of(f"{key}.{name}", f"{label} {name}", estimate, "ms", n=len(millis)))
    arm.samples[key] = stats.thin(millis)


def add_value(arm: Arm, key: str, label: str, value: float, unit: str, *, n: int | None = None) -> None:
    arm.add(Metric(key, label, value, unit, n=n))


def add_ratio(
    arm: Arm,
    key: str,
    label: str,
    top: Sequence[float],
    bottom: Sequence[float],
    *,
    q: float = 0.5,
    paired: bool = False,
) -> None:
    """``quantile(top) / quantile(bottom)`` with a 95% bootstrap interval (nothing if a side is empty)."""
    if not top or not bottom:
        return
    estimate = stats.paired_ratio_ci(top, bottom, q) if paired else stats.ratio_ci(top, bottom, q)
    arm.add(Metric.of(key, label, estimate, "×", n=min(len(top), len(bottom))))


@contextmanager
def phase(result: SuiteResult, name: str) -> Generator[None]:
    """Record how long a phase of the suite took (``params["phase_seconds"]``), to keep runs within budget."""
    began = time.monotonic()
    try:
        yield
    finally:
        result.params.setdefault("phase_seconds", {})[name] = round(time.monotonic() - began, 1)
