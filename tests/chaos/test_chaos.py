"""``corral chaos``, bounded (README "Guarantees", "### Chaos"): one short seeded run per engine against a real
deployment (two API processes, two workers, bubblewrap sandboxes, a scripted model), three rounds of one tool
call per session, each round struck by a different fault, after which every invariant must hold: each
acknowledged event stored once and in order, every session idle, no tool call run twice, nothing left behind.
A failure names its seed and the command that replays it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from corral.testing.chaos import Options, run

pytestmark = pytest.mark.timeout(900)  # four corral processes start per run on a busy machine

SEED = 20261212  # every fault mid-call but one, struck between rounds so the next round meets it
FAULTS = {
    "sqlite": ["kill_worker", "fill_sqlite_disk", "kill_api"],
    "postgres": ["kill_postgres", "pause_worker", "fill_sandbox_disk"],
}


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_a_seeded_chaos_run_keeps_every_invariant(engine: str, tmp_path: Path) -> None:
    options = Options(engine, SEED, rounds=3, sessions=2, faults=FAULTS[engine], root=tmp_path)
    report = run(options, print)
    assert report.ok, f"{report.violations}; replay: {report.replay()}"
    assert sorted(s.split(": ")[1].split(" ")[0] for s in report.struck) == sorted(FAULTS[engine])


def test_a_fault_the_run_cannot_do_is_refused_by_name() -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "corral", "chaos", "--engine", "sqlite", "--faults", "kill_postgres"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 2, refused.stderr
    assert "refused: kill_postgres: kill_postgres needs the postgres engine" in refused.stderr
