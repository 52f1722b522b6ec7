"""The ``log`` suite runs end to end at tiny sizes on real SQLite and PostgreSQL, and its invariants hold.

No timing is asserted here: targets are judged in BENCHMARKS.md only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corral.bench.report import render
from corral.bench.results import NOT_MEASURED, SuiteResult, load_all
from corral.bench.runner import RunOptions, run_suites
from tests.conftest import postgres_admin_url

pytestmark = pytest.mark.anyio

EMIT, ROUNDS = 12, 2
TINY: dict[str, object] = {
    "log.emit": EMIT,
    "log.rounds": ROUNDS,
    "log.warmup": 2,
    "log.writers": 3,
    "log.writer_events": 2,
    "log.slices": [300, 1000],
    "log.slice_samples": 4,
    "log.recovery": [82],
    "log.recovery_reps": 1,
    "log.fsync_appends": 10,
    "log.turns": [2, 5],
    "log.turn_samples": 2,
}


async def run_log(tmp_path: Path) -> SuiteResult:
    # a data dir without the peer's virtualenv, and building it is off for quick runs: the peer is not measured
    options = RunOptions(True, tmp_path / "out", tmp_path / "data", postgres_url=postgres_admin_url(), overrides=TINY)
    [result] = await run_suites(["log"], options)
    return result


async def test_log_suite_at_tiny_sizes(tmp_path: Path) -> None:
    """One run (the suite takes a few seconds), three aspects."""
    result = await run_log(tmp_path)
    every_corral_arm_and_floor_is_measured(result)
    the_peer_without_its_virtualenv_is_not_measured(result)
    files_plots_and_report_come_from_the_run(result, tmp_path / "out")


def every_corral_arm_and_floor_is_measured(result: SuiteResult) -> None:
    assert result.status == "ok", result.notes
    # everything but the openhands-sdk peer needs nothing from outside corral (script/test starts PostgreSQL)
    assert [a.name for a in result.arms if not (a.ok and a.metrics)] == ["openhands-sdk"], result.arms
    for name in ("corral/sqlite", "corral/sqlite-full", "corral/postgres", "floor/sqlite", "floor/postgres"):
        arm = result.arm(name)
        assert arm is not None and arm.ok, (name, arm)
        emit = arm.metric("emit.p50")
        assert emit is not None and emit.n == EMIT // ROUNDS * ROUNDS
    corral = result.arm("corral/sqlite")
    assert corral is not None
    assert {m.key for m in corral.metrics} >= {"emit.p50", "concurrent.rate", "slice@300.p50", "recovery@82.p50"}
    assert result.checks and all(check.ok for check in result.checks), result.checks
    assert result.broken == []
    # every slice size is filled with the same payload sizes: their figures differ by the log's length alone
    assert corral.metric("slice@1000.p50") is not None
    assert result.params["slice_scales"] == {"300": 1.0, "1000": 1.0}
    # equal durability, counted: FULL syncs at every commit (appends that share a commit share its sync, so a
    # figure below 1 per append is possible), corral's default NORMAL (WAL) less often
    normal, full = (result.metric(name, "emit.syncs_per_append") for name in ("corral/sqlite", "corral/sqlite-full"))
    assert normal and full and normal.value is not None and full.value is not None, result.notes
    assert full.value > 0 and normal.value < full.value, (normal, full)
    turns = result.arm("turns")  # turn 5 ÷ turn 2 of a session (the same work each turn), warm logs on and off
    assert turns and all(turns.metric(f"{side}.turn@5.vs_turn@2") for side in ("warm", "cold")), turns
    for name in ("corral/sqlite", "corral/postgres"):  # what users pay for: bytes on disk per event, per engine
        arm = result.arm(name)
        disk, payload = (
            arm and arm.metric("disk@1000.bytes_per_event"),
            arm and arm.metric("payload@1000.bytes_per_event"),
        )
        assert disk and payload and disk.value and payload.value and disk.n == payload.n == 1000, (name, disk, payload)


def the_peer_without_its_virtualenv_is_not_measured(result: SuiteResult) -> None:
    peer = result.arm("openhands-sdk")
    assert peer is not None
    assert peer.status.startswith(NOT_MEASURED), peer.status
    ratios = result.arm("ratios")
    assert ratios is not None and ratios.metric("emit.vs_floor") is not None
    # each engine's flatness: the largest size's slice over the smallest's, at equal payloads
    assert ratios.metric("slice@1000.vs_slice@300") and ratios.metric("slice_pg@1000.vs_slice@300"), ratios.metrics
    assert {"emit_full.vs_floor", "emit_pg.vs_floor"} <= {m.key for m in ratios.metrics}
    assert ratios.metric("emit.vs_peer") is None


def files_plots_and_report_come_from_the_run(result: SuiteResult, out: Path) -> None:
    stored = json.loads((out / "log.json").read_text())
    assert stored["suite"] == "log" and stored["machine"]["cpus_online"] >= 1
    assert result.plots and all((out / name).stat().st_size > 0 for name in result.plots)
    loaded = load_all(out)["log"]
    assert loaded.metric("corral/sqlite", "emit.p50") == result.metric("corral/sqlite", "emit.p50")
    text = render(out)
    figure = result.metric("ratios", "emit.vs_floor")
    assert figure is not None and figure.value is not None
    assert "## Targets" in text and "not measured" in text
    assert "corral emit_event ≤ 2× the raw SQLite floor" in text
