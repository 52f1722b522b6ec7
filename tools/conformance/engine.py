"""One engine's run: a live corral, the SDK's generated tests against it in a pytest child, the raw results.

Invariants:

* The child pytest runs in the extracted SDK tree (``tests.utils`` is the SDK's own), with this repository on
  ``PYTHONPATH`` only for the plugin; it never loads a ``conftest.py``.
* A pytest exit status other than 0 (all passed) or 1 (some failed) means the run itself broke (a collection
  error, a crash): that raises, it is never read as results. So does a run longer than ``_RUN_TIMEOUT``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx

from tools.conformance.server import Live, serve
from tools.conformance.surface import sdk_methods, test_files

REPO = Path(__file__).resolve().parents[2]
_PYTEST_INI = Path(__file__).with_name("pytest.ini")
_TEST_TIMEOUT = 30  # seconds, one test (pytest-timeout)
_RUN_TIMEOUT = 600  # seconds, one engine's whole pytest run: a hung server ends the run, it never stalls it


@dataclass(frozen=True)
class EngineRun:
    engine: str
    seconds: float
    records: list[dict[str, Any]]
    routes: frozenset[tuple[str, str]]  # (METHOD, path template) of every route corral serves


def _routes(live: Live) -> frozenset[tuple[str, str]]:
    with httpx.Client(timeout=30.0, trust_env=False) as http:
        spec = cast(dict[str, Any], http.get(f"{live.base_url}/openapi.json").raise_for_status().json())
    paths = cast(dict[str, dict[str, Any]], spec["paths"])
    return frozenset((method.upper(), path) for path, item in paths.items() for method in item)


def _settings(live: Live, scratch: Path) -> Path:
    """What the plugin in the child needs (``CONFORMANCE_RUN``): where corral is, its key, where to report."""
    settings = scratch / "run.json"
    doc = {"base_url": live.base_url, "api_key": live.api_key, "workspace_id": live.workspace_id}
    settings.write_text(json.dumps({**doc, "report": str(scratch / "report.jsonl")}))
    return settings


def _pytest(sdk_root: Path, live: Live, scratch: Path) -> list[dict[str, Any]]:
    settings = _settings(live, scratch)
    env = {**os.environ, "PYTHONPATH": str(REPO), "CONFORMANCE_RUN": str(settings)}
    for name in [k for k in env if k.startswith("ANTHROPIC_")]:
        del env[name]  # the clients get their base URL and key from the run, never from the environment
    command = [sys.executable, "-m", "pytest", "-c", str(_PYTEST_INI), "--rootdir", str(sdk_root)]
    command += ["-p", "tools.conformance.plugin", f"--timeout={_TEST_TIMEOUT}"]
    command += [str(path) for path in test_files(sdk_root, sdk_methods())]
    with (scratch / "pytest.log").open("wb") as log:
        done = subprocess.run(
            command, cwd=sdk_root, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=_RUN_TIMEOUT
        )
    status = done.returncode
    if status not in (0, 1):
        raise RuntimeError(f"pytest of the SDK's tests exited {status}; see {scratch / 'pytest.log'}")
    return [json.loads(line) for line in (scratch / "report.jsonl").read_text().splitlines()]


def run_engine(engine: str, db_url: str, sdk_root: Path, scratch: Path) -> EngineRun:
    """Serve ``db_url`` and run every managed-agents test of the SDK at ``sdk_root`` against it."""
    scratch.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with serve(db_url, scratch) as live:
        routes = _routes(live)
        records = _pytest(sdk_root, live, scratch)
    return EngineRun(engine, time.monotonic() - started, records, routes)
