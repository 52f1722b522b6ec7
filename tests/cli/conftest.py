"""The CLI driven as a person drives it: ``python -m corral …`` subprocesses against a live server on SQLite whose
model is the scripted model server loaded with ``examples/scripted_model.json``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from corral.testing import ScriptedModelServer
from tests.live import LiveServer, live_server, scrubbed_env

SCRIPT = Path(__file__).parent.parent.parent / "examples" / "scripted_model.json"


@contextmanager
def cli_server(tmp: Path) -> Generator[LiveServer]:
    with ScriptedModelServer(json.loads(SCRIPT.read_text())) as model:
        env = {"ANTHROPIC_BASE_URL": model.url}
        with live_server(f"sqlite:///{tmp / 'corral.db'}", data_dir=tmp / "data", env=env) as running:
            yield running


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with cli_server(tmp_path_factory.mktemp("cli")) as running:
        yield running


def client_env(server: LiveServer) -> dict[str, str]:
    return scrubbed_env({"CORRAL_URL": server.base_url, "CORRAL_API_KEY": server.api_key})


def corral(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corral", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
