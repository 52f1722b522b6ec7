"""Every other suite runs end to end through ``python -m corral.bench`` at tiny sizes: it does not crash, its
hard invariants hold, and arms whose component is missing say why. No timing is asserted (targets are judged
in BENCHMARKS.md only).

Each suite runs in a child process, as ``corral bench`` does in ``script/test``; the exit status is the
command's own verdict (non-zero only on a crash or a broken invariant).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest

from corral.bench.results import SuiteResult
from tests.conftest import postgres_admin_url

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TINY: dict[str, object] = {
    "ttft.params": {"sessions": 4, "arrivals_per_second": 20.0, "time_scale": 0.02, "warm_pool_size": 1},
    "api.sessions": [1, 3],
    "api.turns": 1,
    "api.subscribers": 3,
    "api.throughput_sessions": 2,
    "api.idle": 3,
    "recovery.sessions": 2,
    "sandbox.cold": 1,
    "sandbox.trips": 2,
    "sandbox.egress_requests": 3,
}


async def run_cli(name: str, tmp_path: Path) -> tuple[int, str]:
    command = [sys.executable, "-m", "corral.bench", name, "--quick", "--no-report", "--out", str(tmp_path / "out")]
    command += ["--postgres-url", postgres_admin_url()]
    for key, value in TINY.items():
        command += ["--set", f"{key}={json.dumps(value)}"]
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp_path)}
    env["CORRAL_DATA_DIR"] = str(tmp_path / "data")
    with anyio.fail_after(110):
        done = await anyio.run_process(command, env=env, check=False)
    return done.returncode, (done.stdout + done.stderr).decode(errors="replace")


@pytest.mark.parametrize("name", ["ttft", "api", "recovery", "sandbox"])
async def test_suite_runs_and_its_invariants_hold(name: str, tmp_path: Path) -> None:
    code, output = await run_cli(name, tmp_path)
    assert code == 0, output[-3000:]
    result = SuiteResult.from_dict(json.loads((tmp_path / "out" / f"{name}.json").read_text()))
    assert result.status == "ok" and result.broken == [], (result.status, result.broken)
    for arm in result.arms:
        assert arm.ok or arm.status.startswith("not available: "), (arm.name, arm.status)
        assert not arm.ok or arm.metrics, arm.name
