"""How the bench decides "provisional": CPU that other processes used during a suite, from the kernel's counters.
Counters are made up here or compared with the CPU a child burned by its own clock; nothing is timed."""

from __future__ import annotations

import os
import subprocess
import sys

from corral.bench import cpu
from corral.bench.report import busy_suites, provisional_note
from corral.bench.results import SuiteResult

TICK = os.sysconf("SC_CLK_TCK")
STAT = "cpu  100 10 50 1000 30 5 5 0 0 0\ncpu0 50 5 25 500 15 2 3 0 0 0\n"


def test_machine_busy_time_leaves_out_idle_and_iowait() -> None:
    assert cpu.machine_busy_seconds(STAT) == (100 + 10 + 50 + 5 + 5) / TICK


def test_a_process_line_is_read_past_a_name_with_spaces_and_parentheses() -> None:
    line = "42 (a (b) c) S 7 42 42 0 -1 0 0 0 0 0 300 200 20 10 20 0 1 0 100 0 0"
    assert cpu.process_seconds(line) == (7, (300 + 200 + 20 + 10) / TICK)


def test_the_run_counts_its_descendants_not_its_neighbours() -> None:
    processes = {1: (0, 100.0), 10: (1, 1.0), 11: (10, 2.0), 12: (11, 4.0), 20: (1, 8.0), 30: (1, 16.0)}
    assert cpu.tree_seconds(processes, [10]) == 7.0
    assert cpu.tree_seconds(processes, [10, 30, 99]) == 23.0  # a named root that is gone counts nothing


def test_other_cpu_is_the_machine_minus_the_run_as_a_share_of_capacity() -> None:
    start, end = cpu.Sample(0.0, 1000.0, 10.0), cpu.Sample(10.0, 1013.0, 20.0)
    other = cpu.other_cpu(start, end, cpus=2)
    assert (other["seconds"], other["share"]) == (3.0, 0.15)
    assert cpu.provisional(other) and not cpu.provisional({**other, "share": 0.05})
    assert cpu.provisional(None)  # not recorded: never called quiet


def test_a_child_that_burned_cpu_and_was_reaped_counts_as_the_runs_own() -> None:
    burn = "import time\nwhile time.process_time() < 0.3: pass"
    before = cpu.sample()
    subprocess.run([sys.executable, "-c", burn], check=True)
    after = cpu.sample()
    assert after.ours - before.ours >= 0.25  # at least what the child measured on its own clock, minus tick rounding


def suite(name: str, share: float | None, *, quick: bool = False) -> SuiteResult:
    result = SuiteResult(name, quick, "2026-12-07T00:00:00Z")
    if share is not None:
        result.machine["other_cpu"] = {"seconds": 1.0, "share": share, "cpus": 2, "threshold": cpu.PROVISIONAL_SHARE}
    return result


def test_the_report_is_provisional_by_other_cpu_and_names_the_suites() -> None:
    quiet = {"log": suite("log", 0.02), "api": suite("api", 0.05)}
    assert busy_suites(quiet) == [] and provisional_note(quiet) is None
    busy = {**quiet, "ttft": suite("ttft", 0.4), "old": suite("old", None)}
    assert busy_suites(busy) == ["ttft", "old"]
    note = provisional_note(busy)
    assert note is not None and "ttft, old" in note and "10%" in note
    quick = provisional_note({"log": suite("log", 0.0, quick=True)})
    assert quick is not None and "--quick sizes: log" in quick
