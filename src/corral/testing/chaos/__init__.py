"""A seeded chaos harness: a real deployment of corral (two API processes, two workers, bubblewrap sandboxes, a
scripted model, SQLite on a loop-mounted filesystem or a PostgreSQL of its own) runs sessions whose every turn
is a tool call, while faults chosen by the seed strike at chosen moments: ``kill -9`` of API processes, workers
and PostgreSQL (each started again), a worker paused past its lease, the SQLite disk and the shared sandbox disk
filled. Afterwards it checks that every acknowledged event is stored exactly once and in order, that every
session ended idle, that no tool call ran twice, and that nothing (process, mount, loop device, cgroup) was
left behind.

``corral chaos`` runs it (``python -m corral.testing.chaos``); ``tests/chaos`` runs a short plan per engine.
Modules: ``plan`` (the seeded plan), ``deployment`` (the processes and disks), ``client`` (HTTP with failover),
``faults`` (doing them), ``invariants`` (the checks), ``run`` (the rounds).
"""

from corral.testing.chaos.plan import FAULTS, faults_for, make_plan
from corral.testing.chaos.run import Options, Report, refusals, run

__all__ = ["FAULTS", "Options", "Report", "faults_for", "make_plan", "refusals", "run"]
