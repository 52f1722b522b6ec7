"""How a target is judged from a figure and its 95% interval: met, not met, uncertain (the interval crosses the
bound, whichever side the figure fell on) or not measured. Figures are made up here; no timing is measured."""

from __future__ import annotations

import pytest

from corral.bench.report import targets_section
from corral.bench.results import Arm, Metric, SuiteResult
from corral.bench.targets import TARGETS, Target, judge

BELOW_2_MS = Target("a p50 under 2 ms", "credentials", "injection", "overhead.p50", "<", 2.0, "ms")


def results(value: float, low: float, high: float) -> dict[str, SuiteResult]:
    metric = Metric("overhead.p50", "overhead", value, "ms", low, high, 100)
    return {
        "credentials": SuiteResult(
            "credentials", False, "2026-12-07T00:00:00Z", arms=[Arm("injection", metrics=[metric])]
        )
    }


@pytest.mark.parametrize(
    ("value", "low", "high", "verdict"),
    [
        (1.0, 0.9, 1.1, "met"),
        (3.0, 2.9, 3.1, "not met"),
        (1.9, 1.8, 2.1, "uncertain"),
        (2.1, 1.9, 2.2, "uncertain"),
    ],
)
def test_a_verdict_follows_the_interval_not_only_the_figure(
    value: float, low: float, high: float, verdict: str
) -> None:
    assert judge(BELOW_2_MS, results(value, low, high)).verdict == verdict


def test_without_a_figure_the_target_is_not_measured() -> None:
    judged = judge(BELOW_2_MS, {})
    assert judged.verdict == "not measured" and "credentials" in judged.why


def test_the_report_never_calls_an_uncertain_figure_met() -> None:
    target = next(t for t in TARGETS if (t.suite, t.arm) == ("credentials", "injection"))
    row = next(
        line for line in targets_section(results(target.bound * 0.99, 0, target.bound * 2)) if target.text in line
    )
    assert "uncertain" in row and "✅" not in row
