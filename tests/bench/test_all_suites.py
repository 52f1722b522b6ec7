"""Every suite runs without crashing at tiny sizes; arms whose component is missing say why."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.bench.runner import RunOptions, all_suites, run_suites
from tests.bench.test_log_suite import TINY
from tests.conftest import postgres_admin_url

pytestmark = pytest.mark.anyio


async def test_every_suite_completes_and_explains_missing_arms(tmp_path: Path) -> None:
    names = [name for name in all_suites() if name != "log"]
    options = RunOptions(True, tmp_path / "out", tmp_path / "data", postgres_url=postgres_admin_url(), overrides=TINY)
    results = await run_suites(names, options)
    assert [r.suite for r in results] == names
    for result in results:
        assert result.status == "ok", (result.suite, result.status, result.notes)
        assert result.broken == [], result.broken
        for arm in result.arms:
            assert arm.ok or arm.status.startswith("not available: "), (result.suite, arm.name, arm.status)
        assert (tmp_path / "out" / f"{result.suite}.json").exists()
