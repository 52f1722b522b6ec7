"""The random draws of the ``ttft`` suite, made once per seed and shared by every arm (common random numbers).

Invariants:

* ``draw(params, seed)`` is a pure function: every arm sees the same arrival times, the same sessions that
  need a sandbox, the same synthetic sandbox start times; the scripted model server derives each session's
  model latency from the session's first user text, which is the same in every arm (and in every start-time
  variant of the sensitivity table: the text does not depend on the start-time distribution).
* Times are real seconds: nothing is scaled. A run is shortened by fewer seeds or sessions, never by compressing
  time, since the harness's own costs (polling, sandbox starts, process hops) do not scale with the workload.
* A start-time variant (``VARIANTS``) changes only the start-time distribution; the random stream consumes the
  same draws whatever its parameters, so a variant's sessions keep their arrivals, needs and model latencies.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Params:
    sessions: int = 40
    arrivals_per_second: float = 6.0
    no_hands_share: float = 0.5
    #: model time to first token: lognormal (median seconds, sigma)
    model_ttft_median: float = 0.7
    model_ttft_sigma: float = 0.5
    tokens_per_second: float = 60.0
    #: synthetic sandbox start: a "warm" and a "cold" lognormal mixture, clipped
    start_warm_median: float = 1.2
    start_warm_sigma: float = 0.4
    start_cold_share: float = 0.1
    start_cold_median: float = 9.0
    start_cold_sigma: float = 0.6
    start_min: float = 0.5
    start_max: float = 40.0
    warm_pool_size: int = 4


@dataclass(frozen=True)
class SessionDraw:
    index: int
    arrival: float  # seconds after the block starts
    needs_hands: bool
    synthetic_start: float  # extra seconds a cold provision of this session takes
    text: str  # the first user message (seeds the model's latency on the scripted server)


def start_time(rng: random.Random, p: Params) -> float:
    cold = rng.random() < p.start_cold_share
    median, sigma = (p.start_cold_median, p.start_cold_sigma) if cold else (p.start_warm_median, p.start_warm_sigma)
    return min(p.start_max, max(p.start_min, rng.lognormvariate(math.log(median), sigma)))


def draw(params: Params, seed: int) -> list[SessionDraw]:
    rng = random.Random(seed)
    clock = 0.0
    sessions: list[SessionDraw] = []
    for index in range(params.sessions):
        clock += rng.expovariate(params.arrivals_per_second)
        hands = rng.random() >= params.no_hands_share
        marker = "[hands]" if hands else "[nohands]"
        text = f"session {index} of seed {seed} {marker}: please help"
        sessions.append(SessionDraw(index, clock, hands, start_time(rng, params), text))
    return sessions


def _scaled(factor: float) -> Callable[[Params], Params]:
    def scale(p: Params) -> Params:
        return replace(
            p,
            start_warm_median=p.start_warm_median * factor,
            start_cold_median=p.start_cold_median * factor,
            start_min=p.start_min * factor,
            start_max=p.start_max * factor,
        )

    return scale


#: the sensitivity table's start-time distributions, each derived from the assumed one (``ASSUMED``)
ASSUMED = "as-assumed"
VARIANTS: dict[str, Callable[[Params], Params]] = {
    "starts-x0.25": _scaled(0.25),  # every start time a quarter as long
    "starts-x0.5": _scaled(0.5),
    "starts-x2": _scaled(2.0),
    "no-slow-tail": lambda p: replace(p, start_cold_share=0.0),  # the 9 s mode never happens
    "slow-tail-30pct": lambda p: replace(p, start_cold_share=0.3),
}


def assumed_ratio(params: Params, q: float, samples: int = 20000, seed: int = 1) -> float:
    """The lazy ÷ coupled TTFT quantile that the assumed distributions alone predict, with no corral in it:
    lazy waits for the model only, coupled for the sandbox start and then the model."""
    rng = random.Random(seed)
    models = [rng.lognormvariate(math.log(params.model_ttft_median), params.model_ttft_sigma) for _ in range(samples)]
    coupled = sorted(m + start_time(rng, params) for m in models)
    models.sort()
    index = min(samples - 1, int(q * samples))
    return models[index] / coupled[index]
