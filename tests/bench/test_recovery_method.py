"""The ``recovery`` suite's ledger and kill moments: a re-run is seen even when its first run was killed before it
wrote its own marker, and kills land at seeded, spread moments."""

from __future__ import annotations

import json
import re

from corral.bench.suites.recovery.scenario import kill_delays, ledger_doubles, model_script


def test_a_rerun_killed_before_its_echo_is_counted() -> None:
    once = "start-0\ncall-0\nstart-1\ncall-1\n"
    assert ledger_doubles(once) == 0
    assert ledger_doubles("start-0\ncall-0\nstart-1\nstart-1\ncall-1\n") == 1  # the first run of 1 died mid-sleep
    assert ledger_doubles("start-0\ncall-0\nstart-0\ncall-0\n") == 1  # run twice in full
    assert ledger_doubles("start-0\ncall-0\nstart-1\n") == 0  # killed and never run again: not a double


def test_every_command_writes_its_start_marker_first() -> None:
    commands = re.findall(r'"command": "([^"]*)"', json.dumps(model_script(3)))[:3]
    assert len(commands) == 3 and all(c.index("start-") < c.index("sleep") < c.index("call-") for c in commands), (
        commands
    )


def test_kill_moments_are_seeded_and_spread_over_the_turn() -> None:
    delays = kill_delays(20261126, 8)
    assert delays == kill_delays(20261126, 8) != kill_delays(20261127, 8)
    assert len(set(delays)) == 8 and all(0.2 <= d <= 2.0 for d in delays)
