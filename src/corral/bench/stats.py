"""Summary statistics for latency samples: quantiles with bootstrap confidence intervals.

Invariants:

* Quantiles use the same definition everywhere (numpy's default, linear interpolation), so figures of
  different arms and runs are comparable.
* Bootstrap resampling is seeded: the same samples give the same intervals on every run.
* Nothing here measures time; callers pass samples in seconds and get figures back in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_RESAMPLES = 1000
_SEED = 20261126


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its 95% bootstrap interval (``low``/``high`` None when not computed)."""

    value: float
    low: float | None = None
    high: float | None = None


def quantile(samples: Sequence[float], q: float) -> float:
    return float(np.quantile(np.asarray(samples, dtype=float), q))


def _resample(samples: Sequence[float], q: float, resamples: int, rng: np.random.Generator) -> np.ndarray:
    data = np.asarray(samples, dtype=float)
    picks = rng.integers(0, len(data), size=(resamples, len(data)))
    return np.quantile(data[picks], q, axis=1)


def quantile_ci(samples: Sequence[float], q: float, *, resamples: int = _RESAMPLES) -> Estimate:
    """The ``q`` quantile with a percentile-bootstrap 95% interval."""
    if not samples:
        raise ValueError("no samples")
    point = quantile(samples, q)
    if len(samples) < 5:
        return Estimate(point)
    boot = _resample(samples, q, resamples, np.random.default_rng(_SEED))
    return Estimate(point, float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975)))


def ratio_ci(top: Sequence[float], bottom: Sequence[float], q: float = 0.5, *, resamples: int = _RESAMPLES) -> Estimate:
    """``quantile(top, q) / quantile(bottom, q)`` with a 95% interval from resampling both sides independently."""
    point = quantile(top, q) / quantile(bottom, q)
    if len(top) < 5 or len(bottom) < 5:
        return Estimate(point)
    rng = np.random.default_rng(_SEED)
    ratios = _resample(top, q, resamples, rng) / _resample(bottom, q, resamples, rng)
    return Estimate(point, float(np.quantile(ratios, 0.025)), float(np.quantile(ratios, 0.975)))


def paired_ratio_ci(
    top: Sequence[float], bottom: Sequence[float], q: float, *, resamples: int = _RESAMPLES
) -> Estimate:
    """Like ``ratio_ci`` for paired samples (common random numbers): both sides are resampled with the same picks."""
    if len(top) != len(bottom):
        raise ValueError("paired samples must have the same length")
    point = quantile(top, q) / quantile(bottom, q)
    if len(top) < 5:
        return Estimate(point)
    rng = np.random.default_rng(_SEED)
    a, b = np.asarray(top, dtype=float), np.asarray(bottom, dtype=float)
    picks = rng.integers(0, len(a), size=(resamples, len(a)))
    ratios = np.quantile(a[picks], q, axis=1) / np.quantile(b[picks], q, axis=1)
    return Estimate(point, float(np.quantile(ratios, 0.025)), float(np.quantile(ratios, 0.975)))


def thin(samples: Sequence[float], keep: int = 2000) -> list[float]:
    """At most ``keep`` samples, evenly spaced in the original order (for plots and the JSON file)."""
    if len(samples) <= keep:
        return list(samples)
    step = len(samples) / keep
    return [samples[int(i * step)] for i in range(keep)]


def difference_ci(
    top: Sequence[float], bottom: Sequence[float], q: float = 0.5, *, resamples: int = _RESAMPLES
) -> Estimate:
    """``quantile(top, q) - quantile(bottom, q)`` with a 95% interval from resampling both sides independently."""
    point = quantile(top, q) - quantile(bottom, q)
    if len(top) < 5 or len(bottom) < 5:
        return Estimate(point)
    rng = np.random.default_rng(_SEED)
    differences = _resample(top, q, resamples, rng) - _resample(bottom, q, resamples, rng)
    return Estimate(point, float(np.quantile(differences, 0.025)), float(np.quantile(differences, 0.975)))
