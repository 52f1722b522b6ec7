"""A ``corral bench`` stopped by SIGTERM cleans up after itself: its throwaway PostgreSQL cluster is stopped and
removed, and it exits with 143."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def clusters() -> set[Path]:
    return set(Path("/tmp").glob("corral-bench-pg.*"))


async def running_postgres(root: Path) -> bool:
    found = await anyio.run_process(["ps", "-eo", "args"], check=False)
    return str(root) in found.stdout.decode(errors="replace")


async def started_cluster(before: set[Path]) -> Path:
    for _ in range(600):
        new = clusters() - before
        if new and await running_postgres(root := next(iter(new))):
            return root
        await anyio.sleep(0.1)
    raise AssertionError("the run started no PostgreSQL cluster within a minute")


def suite_databases(data_dir: Path) -> list[Path]:
    return list(data_dir.glob("bench/run-*/log/corral.db"))


async def suite_at_work(data_dir: Path) -> None:
    """Until the ``log`` suite has opened its first database: the run is inside the suite's own work."""
    for _ in range(1200):
        if suite_databases(data_dir):
            return
        await anyio.sleep(0.05)
    raise AssertionError("the log suite opened no database within a minute")


async def test_a_stopped_run_removes_its_postgres_cluster(tmp_path: Path) -> None:
    before = clusters()
    command = [sys.executable, "-m", "corral.bench", "log", "--quick", "--no-report", "--out", str(tmp_path / "out")]
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp_path)}
    env["CORRAL_DATA_DIR"] = str(tmp_path / "data")
    async with await anyio.open_process(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as process:
        root = await started_cluster(before)
        await suite_at_work(tmp_path / "data")
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(60):
            code = await process.wait()
    assert code == 128 + signal.SIGTERM
    assert not root.exists()
    assert not await running_postgres(root)
