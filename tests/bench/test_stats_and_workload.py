"""The statistics and the shared workload that every suite relies on."""

from __future__ import annotations

import random

import pytest

from corral.bench import context, stats
from corral.bench.suites.api.open_loop import arrivals
from corral.bench.suites.log.systems import new_event
from corral.bench.workload import steps
from corral.session import dumps


def test_quantile_intervals_bracket_the_estimate_and_are_reproducible() -> None:
    rng = random.Random(7)
    samples = [rng.lognormvariate(0, 1) for _ in range(500)]
    first = stats.quantile_ci(samples, 0.95)
    assert first.low is not None and first.high is not None
    assert first.low <= first.value <= first.high
    assert stats.quantile_ci(samples, 0.95) == first


def test_ratio_of_identical_samples_is_one() -> None:
    samples = [float(i) for i in range(1, 101)]
    assert stats.ratio_ci(samples, samples).value == 1.0
    assert stats.paired_ratio_ci(samples, samples, 0.5).low == 1.0


def test_workload_is_deterministic_and_exact_in_length() -> None:
    first = list(steps(42, 250))
    assert len(first) == 250
    assert first == list(steps(42, 250))
    assert first != list(steps(43, 250))
    results = {s.tool_use_id for s in first if s.kind == "tool_result"}
    assert results <= {s.id for s in first if s.kind == "tool_use"}


def test_corral_events_rebuild_into_alternating_messages() -> None:
    events = [new_event(step) for step in steps(3, 40)]
    items = [context.corral_item(e.type, e.id or f"e{i}", dumps(e.data)) for i, e in enumerate(events)]
    messages = context.rebuild(items)
    roles = [m["role"] for m in messages]
    assert roles[0] == "user"
    assert all(a != b for a, b in zip(roles, roles[1:], strict=False))
    assert sum(len(m["content"]) for m in messages) == 40


def test_open_loop_arrivals_are_seeded_and_at_their_rate() -> None:
    """The open-loop arm's schedule is fixed by its seed before the run, so no server slowness can thin it."""
    first, again, other = (arrivals(seed, 25.0, 2000) for seed in (7, 7, 8))
    assert first == again and first != other
    assert all(b > a for a, b in zip(first, first[1:], strict=False))
    assert 2000 / first[-1] == pytest.approx(25.0, rel=0.1)
