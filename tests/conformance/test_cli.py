"""The ``corral`` commands an operator runs: first start prints one key, ``keys create``, ``migrate``, ``version``."""

from __future__ import annotations

import re
import subprocess
import sys

import anthropic
import anyio
import pytest

from tests.conftest import database_url
from tests.live import LiveServer

KEY = re.compile(r"^sk-corral-[A-Za-z0-9_-]{40,}$", re.MULTILINE)


def corral(server: LiveServer, *args: str) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "corral", *args]
    return subprocess.run(command, env=server.server_env(), capture_output=True, check=True, timeout=120)


@pytest.mark.timeout(360)  # three corral processes one after another, each paying a full start on a busy machine
def test_first_start_prints_one_key_once(engine: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp(f"first-{engine}")
    server = LiveServer(
        anyio.run(database_url, engine, tmp), tmp / "data", env={"CORRAL_WORKERS": "0", "CORRAL_API_KEY": ""}
    )
    try:
        server.start()
        printed = KEY.findall(server.log_path.read_text())
        assert len(printed) == 1
        with anthropic.Anthropic(base_url=server.base_url, api_key=printed[0], max_retries=0) as client:
            assert client.beta.agents.list().data == []
        server.restart()
        assert KEY.findall(server.log_path.read_text()) == printed  # not again: a key exists now
        made = corral(server, "keys", "create", "--workspace", "team")
        secret = made.stdout.decode().strip()
        assert KEY.fullmatch(secret) and b"wrkspc_" in made.stderr
        with anthropic.Anthropic(base_url=server.base_url, api_key=secret, max_retries=0) as team:
            assert team.beta.environments.list().data == []
    finally:
        server.stop()


def test_migrate_and_version(tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("migrate")
    server = LiveServer(f"sqlite:///{tmp / 'fresh.db'}", tmp / "data")
    assert b"applied" in corral(server, "migrate").stdout  # a fresh database gets every migration …
    assert b"up to date" in corral(server, "migrate").stdout  # … once
    assert (tmp / "fresh.db").exists()
    assert corral(server, "version").stdout.decode().strip()
