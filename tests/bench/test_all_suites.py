"""Every other suite runs end to end through ``python -m corral.bench`` at tiny sizes: it does not crash, its hard
invariants hold, and every arm is measured unless it needs an optional component from outside corral that this
machine lacks (then it says "not measured: <why>"). No timing is asserted (targets are judged in BENCHMARKS.md
only).

This is the test run's one run of the suites (``script/test`` runs no ``corral bench --quick`` besides). Each suite
runs in a child process, as ``corral bench`` runs it; the exit status is the command's own verdict (non-zero only on
a crash, a failed arm or a broken invariant). One of them runs with matplotlib hidden, as on a server installed
without the ``bench`` extra.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import anyio
import pytest

from corral.bench.results import NOT_MEASURED, SuiteResult, SuiteResultJSON
from tests.conftest import postgres_admin_url

# Generous: a suite starts several corral processes, and the machine may be busy with other work.
LIMIT = 240
pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.timeout(LIMIT + 60)]

TINY: dict[str, object] = {
    # real time, with short assumed times instead of a time scale (there is none)
    "ttft.params": {
        "sessions": 3,
        "arrivals_per_second": 20.0,
        "model_ttft_median": 0.02,
        "start_warm_median": 0.03,
        "start_cold_median": 0.1,
        "start_min": 0.01,
        "start_max": 0.4,
        "warm_pool_size": 1,
    },
    "ttft.seeds": 2,
    "ttft.sensitivity_seeds": 1,
    "ttft.variants": ["starts-x2"],
    "api.sessions": [1, 3],
    "api.turns": 1,
    "api.subscribers": 3,
    "api.throughput_sessions": 2,
    "api.idle": 3,
    "api.ingest_clients": 3,
    "api.ingest_requests": 2,
    "api.ingest_rounds": 2,
    "api.single_turns": 3,
    "api.open_sessions": 2,
    "api.open_rate": 20.0,
    "api.open_turns": 6,
    "recovery.sessions": 4,  # as in --quick: with fewer, the killed worker often holds no session at all
    "recovery.rounds": 1,  # a round costs a worker start; kill moments' spread is tested in test_recovery_method
    "sandbox.cold": 1,
    "sandbox.trips": 2,
    "sandbox.footprint": 2,
    "sandbox.egress_requests": 3,
    "files.mib": 1,
    "files.rounds": 2,
    "credentials.mcp_rounds": 2,
    "credentials.mcp_calls": 2,
    "credentials.injection_rounds": 2,
    "credentials.injection_requests": 2,
    "memory.rounds": 2,
    "memory.calls": 2,
    "memory.memories": 10,
    "snapshots.workspace_mib": 9,
    "snapshots.restore_mib": 3,
    "snapshots.rounds": 2,
    "deployments.count": 10,
    "webhooks.count": 10,
    "work.samples": 5,
    "scale.topologies": [[1, 1], [1, 2]],
    "scale.sessions": 2,
    "scale.windows": 2,
    "scale.window_turns": 3,
    "scale.db_clients": 2,
    "scale.db_floor_seconds": 0.3,
    "scale.subscribers": 4,
    "scale.fanout_turns": 1,
}
# Arms that need an optional component from outside corral beyond what every test machine has (script/test's
# PostgreSQL; root and bubblewrap for the local sandboxes), and whether this machine has it.
CURL = shutil.which("curl") is not None
OPTIONAL: dict[tuple[str, str], bool] = {("sandbox", "egress"): CURL, ("credentials", "injection"): CURL}
INVARIANTS: dict[str, set[str]] = {
    "ttft": {"every session of every arm finished its turn"},
    "recovery": {
        "no event lost after kill -9",
        "no tool call executed twice after kill -9",
        "positions stay dense (1, 2, 3 …) in every session",
    },
    "deployments": {"every due deployment fired exactly once", "every delivery arrived, each once"},
    "scale": {
        "every turn of every topology ended, no stream failed",
        "no process holds more than 21 database connections",
    },
}
NO_MATPLOTLIB = "import sys; sys.modules['matplotlib'] = None; from corral.bench.cli import main; main()"


async def run_cli(name: str, tmp_path: Path, *, matplotlib: bool = True) -> tuple[int, str, SuiteResult]:
    entry = ["-m", "corral.bench"] if matplotlib else ["-c", NO_MATPLOTLIB]
    command = [sys.executable, *entry, name, "--quick", "--no-report", "--out", str(tmp_path / "out")]
    command += ["--postgres-url", postgres_admin_url()]
    for key, value in TINY.items():
        command += ["--set", f"{key}={json.dumps(value)}"]
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp_path)}
    env["CORRAL_DATA_DIR"] = str(tmp_path / "data")
    with anyio.fail_after(LIMIT):
        done = await anyio.run_process(command, env=env, check=False)
    output = (done.stdout + done.stderr).decode(errors="replace")
    raw: SuiteResultJSON = json.loads((tmp_path / "out" / f"{name}.json").read_text())
    return done.returncode, output, SuiteResult.from_dict(raw)


def measured_and_sound(name: str, code: int, output: str, result: SuiteResult) -> None:
    assert code == 0, output[-3000:]
    assert result.status == "ok" and result.broken == [], (result.status, result.broken)
    assert {check.name for check in result.checks} == INVARIANTS.get(name, set())
    for arm in result.arms:
        if OPTIONAL.get((name, arm.name), True):
            assert arm.ok and arm.metrics, (arm.name, arm.status)
        else:
            assert arm.status.startswith(NOT_MEASURED), (arm.name, arm.status)
    assert "corral" in result.environments and "other_cpu" in result.machine  # what "provisional" is decided by
    if name == "ttft":
        the_ttft_ratios_are_medians_over_seeds_at_real_time(result)
    if name == "recovery":  # one seeded kill moment per round
        assert len(result.params["kill_after_seconds"]) == result.params["rounds"] == 1, result.params
    if name == "sandbox":  # start to the first command's result, cold and warm, one per round
        local = result.arm("local")
        firsts = [local and local.metric(f"{kind}_first_result.p50") for kind in ("cold", "warm")]
        assert [m.n for m in firsts if m] == [TINY["sandbox.cold"]] * 2, firsts
        footprint = result.arm("footprint")  # what users pay for: memory per idle and per active sandbox
        keys = {f"{state}_{kind}_kib" for state in ("idle", "active") for kind in ("rss", "pss")}
        assert footprint and keys <= {m.key for m in footprint.metrics}, footprint
    if name == "api":  # stored events are counted apart from the live preview frames around them
        through = result.arm("http-throughput")
        events, frames = (through and through.metric("stored_events.rate"), through and through.metric("frames.rate"))
        assert events and frames and events.n and frames.n and events.n < frames.n, (events, frames)
        ingest = result.arm("http-ingest")  # a concurrent floor: the same POSTs to bare Starlette, same client
        sent = 3 * 2 * 2  # clients × requests × rounds, one event each
        assert ingest and [m.n for m in map(ingest.metric, ("corral.rate", "floor.rate")) if m] == [sent, sent]
        assert ingest.metric("ingest.vs_floor") and ingest.metric("floor.client_cores"), ingest.metrics
        memory = result.arm("memory")  # the serve process's RSS with N idle sessions (10,000 in a full run)
        idle = memory and memory.metric("idle_total_mib")
        assert idle and idle.n == TINY["api.idle"], idle
        opened = result.arm(f"open@{TINY['api.open_sessions']}")  # turns on a schedule, not after the last one
        overhead, queued = (opened and opened.metric(k) for k in ("overhead.p50", "queued.p50"))
        assert overhead and queued and overhead.n == queued.n == TINY["api.open_turns"], opened
    if name == "scale":  # one session's events to subscribers split over two serve processes
        fan = result.arm("sse-fanout-2p")
        lag = fan and fan.metric("lag.p99")
        assert lag and lag.n and lag.n >= int(str(TINY["scale.subscribers"])), fan


def the_ttft_ratios_are_medians_over_seeds_at_real_time(result: SuiteResult) -> None:
    assert "time_scale" not in result.params  # nothing is scaled: the assumed times are the times
    ratios, sensitivity = result.arm("ratios"), result.arm("sensitivity")
    assert ratios is not None and sensitivity is not None
    for key in ("lazy.ttft.p95.vs_eager", "speculative-pool.ttft.p95.vs_eager"):
        median, low, high = (ratios.metric(k) for k in (key, f"{key}.min", f"{key}.max"))
        assert median and low and high and median.n == TINY["ttft.seeds"], (key, median)
        assert len(result.params["per_seed"][key]) == TINY["ttft.seeds"]
    for variant in ("as-assumed", "starts-x2"):  # measured beside what the distribution alone predicts
        assert sensitivity.metric(f"{variant}.lazy.ttft.p95.vs_eager") and sensitivity.metric(f"{variant}.assumed.p95")


@pytest.mark.parametrize(
    "name", ["ttft", "api", "recovery", "credentials", "files", "memory", "snapshots", "deployments", "work", "scale"]
)
async def test_suite_runs_and_its_invariants_hold(name: str, tmp_path: Path) -> None:
    code, output, result = await run_cli(name, tmp_path)
    measured_and_sound(name, code, output, result)


async def test_without_matplotlib_a_suite_runs_and_says_it_drew_no_plots(tmp_path: Path) -> None:
    code, output, result = await run_cli("sandbox", tmp_path, matplotlib=False)
    measured_and_sound("sandbox", code, output, result)
    assert result.plots == [] and not list((tmp_path / "out").glob("*.png"))
    assert any(note.startswith("no plots: matplotlib is not installed") for note in result.notes), result.notes
    assert "no plots: matplotlib is not installed" in output and "'corral[bench]'" in output, output[-1000:]
