"""A chaos run's plan: which fault strikes in which round, and at which moment, all drawn from one seed.

A round sends one turn to every session; each turn runs one gated step (``corral.testing.steps``). A fault
strikes either ``in_flight`` (every session's step of the round has started and is held at its gate, so the
fault lands mid-call) or ``between`` (the round is over and every session idle; the next round meets the
damage). The same seed and the same number of rounds give the same plan: a failure is replayed from its seed.

Faults, and what each needs:

* ``kill_api``: SIGKILL one API process (its streams and requests cut), then start it again.
* ``kill_worker``: SIGKILL a worker holding a session's lease, then start it again.
* ``pause_worker``: SIGSTOP a worker holding a lease until another has taken its session over (past the lease),
  then SIGCONT: it must write nothing more for that session.
* ``kill_postgres``: SIGKILL every PostgreSQL process, then start it again (crash recovery); postgres only.
* ``fill_sqlite_disk``: fill the filesystem of the SQLite file: writes get 503 with ``retry-after``, reads go on;
  then free it and writes work again; sqlite only (needs a loop device).
* ``fill_sandbox_disk``: fill the workspace filesystem every sandbox shares (its steps fail on writes), freed at
  the end of the round.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

Moment = Literal["in_flight", "between"]
FAULTS = ("kill_api", "kill_worker", "pause_worker", "kill_postgres", "fill_sqlite_disk", "fill_sandbox_disk")
ENGINE_ONLY = {"kill_postgres": "postgres", "fill_sqlite_disk": "sqlite"}


@dataclass(frozen=True)
class Strike:
    round: int
    fault: str
    moment: Moment
    #: which process among candidates (an index modulo their number), drawn with the plan
    pick: int

    def describe(self) -> str:
        return f"round {self.round}: {self.fault} ({self.moment.replace('_', ' ')})"


def faults_for(engine: str) -> list[str]:
    return [fault for fault in FAULTS if ENGINE_ONLY.get(fault, engine) == engine]


def strike_at(seed: int, number: int, faults: list[str], per_round: float = 0.75) -> Strike | None:
    """The fault of round ``number``, if any: drawn from the seed and the round alone, so that a soak of any
    length is replayed by its seed. The first rounds go through ``faults`` in a seeded order (each strikes at
    least once when there are rounds enough); after them a round gets a fault with probability ``per_round``."""
    order = faults[:]
    random.Random(seed).shuffle(order)
    rng = random.Random(f"{seed}/{number}")
    if number < len(order):
        fault = order[number]
    elif rng.random() < per_round:
        fault = rng.choice(faults)
    else:
        return None
    moment: Moment = rng.choice(("in_flight", "between"))
    return Strike(number, fault, moment, rng.randrange(1 << 16))


def make_plan(seed: int, rounds: int, faults: list[str]) -> list[Strike]:
    return [strike for number in range(rounds) if (strike := strike_at(seed, number, faults)) is not None]
