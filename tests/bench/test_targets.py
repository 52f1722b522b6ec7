"""How a target is judged from a figure and its 95% interval: met, not met, uncertain (the interval crosses the
bound, whichever side the figure fell on) or not measured. Figures are made up here; no timing is measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.bench.report import targets_section
from corral.bench.results import Arm, Metric, SuiteResult, load_all
from corral.bench.targets import TARGETS, Target, decide, judge

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


@pytest.mark.parametrize(
    ("op", "bound", "value", "low", "high", "verdict"),
    [
        ("<", 2.0, 1.0, 0.5, 1.5, "met"),  # the whole interval on the good side
        ("<", 2.0, 3.0, 2.5, 3.5, "not met"),  # the whole interval on the bad side
        ("<", 2.0, 1.5, 1.0, 2.5, "uncertain"),  # crossing, the figure on the good side
        ("<", 2.0, 2.4, 1.0, 2.5, "uncertain"),  # crossing, the figure on the bad side
        ("<", 2.0, 1.5, 1.0, 2.0, "uncertain"),  # a strict bound touched is not on the good side
        ("≤", 2.0, 1.5, 1.0, 2.0, "met"),  # an inclusive bound touched is
        ("≥", 5000.0, 5200.0, 4900.0, 5400.0, "uncertain"),  # rates: the good side is above
        ("≥", 5000.0, 5200.0, 5100.0, 5400.0, "met"),
        ("≥", 5000.0, 400.0, 300.0, 500.0, "not met"),
        ("<", 2.0, 2.1, 1.0, 1.5, "uncertain"),  # a figure outside its own interval is never a clean verdict
        ("<", 2.0, 1.0, None, None, "met"),  # no interval: judged on the figure alone
        ("=", 0.0, 0.0, None, None, "met"),
        ("=", 0.0, 1.0, None, None, "not met"),
    ],
)
def test_the_verdict_rule_on_constructed_intervals(
    op: str, bound: float, value: float, low: float | None, high: float | None, verdict: str
) -> None:
    assert decide(op, bound, value, low, high) == verdict


def test_the_peer_ratio_is_judged_at_equal_durability_with_the_normal_ratio_beside_it() -> None:
    target = next(t for t in TARGETS if (t.suite, t.arm) == ("log", "ratios") and "openhands-sdk" in t.text)
    assert target.key == "emit_full.vs_peer" and target.beside is not None and target.beside[0] == "emit.vs_peer"
    full = Metric("emit_full.vs_peer", "FULL", 0.3, "×", 0.28, 0.32, 100)
    normal = Metric("emit.vs_peer", "NORMAL", 0.1, "×", 0.09, 0.11, 100)
    log = SuiteResult("log", False, "2026-12-07T00:00:00Z", arms=[Arm("ratios", metrics=[full, normal])])
    row = next(line for line in targets_section({"log": log}) if target.text in line)
    assert "❌ not met" in row and "synchronous=NORMAL: 0.1 ×" in row  # the met-looking NORMAL figure is not judged


def test_every_target_names_a_figure_of_the_committed_full_run() -> None:
    """A target whose suite, arm or key no run produces would print "not measured" for ever: every one must name
    a figure that the committed run has (its value may be missing only where the arm says why)."""
    committed = load_all(Path(__file__).parents[2] / "benchmarks" / "results")
    for target in TARGETS:
        result = committed.get(target.suite)
        assert result is not None and not result.quick, target.suite
        arm = result.arm(target.arm)
        assert arm is not None, (target.suite, target.arm)
        assert arm.metric(target.key) is not None or not arm.ok, (target.suite, target.arm, target.key)
