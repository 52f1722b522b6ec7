"""The random draws of the ``ttft`` suite, made once and shared by every arm (common random numbers).

Invariants:

* ``draw(params, seed)`` is a pure function: every arm sees the same arrival times, the same sessions that
  need a sandbox, the same synthetic sandbox start times; the scripted model server derives each session's
  model latency from the session's first user text, which is the same in every arm.
* Times are in seconds, already multiplied by ``params.time_scale`` (which compresses the whole workload
  so that a run fits in minutes; ratios between arms do not depend on it).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Params:
    sessions: int = 100
    arrivals_per_second: float = 6.0
    no_hands_share: float = 0.5
    time_scale: float = 0.25
    #: model time to first token: lognormal (median seconds, sigma) before scaling
    model_ttft_median: float = 0.7
    model_ttft_sigma: float = 0.5
    tokens_per_second: float = 60.0
    #: synthetic sandbox start: a "warm" and a "cold" lognormal mixture, clipped (before scaling)
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


def _start(rng: random.Random, p: Params) -> float:
    cold = rng.random() < p.start_cold_share
    median, sigma = (p.start_cold_median, p.start_cold_sigma) if cold else (p.start_warm_median, p.start_warm_sigma)
    return min(p.start_max, max(p.start_min, rng.lognormvariate(math.log(median), sigma))) * p.time_scale


def draw(params: Params, seed: int) -> list[SessionDraw]:
    rng = random.Random(seed)
    clock = 0.0
    sessions: list[SessionDraw] = []
    for index in range(params.sessions):
        clock += rng.expovariate(params.arrivals_per_second)
        hands = rng.random() >= params.no_hands_share
        marker = "[hands]" if hands else "[nohands]"
        text = f"session {index} of seed {seed} {marker}: please help"
        sessions.append(SessionDraw(index, clock, hands, _start(rng, params), text))
    return sessions
