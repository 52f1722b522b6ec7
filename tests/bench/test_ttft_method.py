"""The ``ttft`` suite's draws: real time (no time scale), and start-time variants that change nothing else."""

from __future__ import annotations

from dataclasses import fields

import pytest

from corral.bench.suites.ttft.draws import VARIANTS, Params, assumed_ratio, draw


def test_nothing_is_scaled() -> None:
    assert "time_scale" not in {f.name for f in fields(Params)}


def test_a_start_time_variant_keeps_arrivals_needs_and_model_latencies() -> None:
    params = Params(sessions=30)
    assumed = draw(params, 7)
    for name, vary in VARIANTS.items():
        varied = draw(vary(params), 7)
        assert [(d.arrival, d.needs_hands, d.text) for d in varied] == [
            (d.arrival, d.needs_hands, d.text) for d in assumed
        ], name
    slower = draw(VARIANTS["starts-x2"](params), 7)
    assert [s.synthetic_start for s in slower] == pytest.approx([2 * d.synthetic_start for d in assumed])


def test_the_distributions_alone_predict_a_smaller_ratio_for_slower_starts() -> None:
    params = Params()
    assert assumed_ratio(VARIANTS["starts-x2"](params), 0.95) < assumed_ratio(params, 0.95)
    assert assumed_ratio(params, 0.95) < assumed_ratio(VARIANTS["starts-x0.5"](params), 0.95)
