"""``corral environments keys create|list|revoke``: an operator's environment keys, on the server's database; only
a key's hash is stored."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import anthropic
import anyio
import pytest

from corral.db import Flow, Row, all_rows
from corral.db.engines import open_database
from tests.live import LiveServer
from tests.sdk_server import sdk
from tests.work.conftest import Setup

pytestmark = pytest.mark.timeout(120)


def corral(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "corral", "environments", "keys", *args]
    return subprocess.run(command, env=server.server_env(), capture_output=True, text=True, timeout=60, check=False)


def _stored() -> Flow[list[tuple[str, str]]]:
    rows: list[Row] = yield all_rows("SELECT key_hash, prefix FROM environment_keys")
    return [(str(row["key_hash"]), str(row["prefix"])) for row in rows]


async def stored_keys(db_url: str) -> list[tuple[str, str]]:
    db = open_database(db_url)
    await db.open()
    try:
        return await db.read(_stored)
    finally:
        await db.close()


def test_an_operator_makes_lists_and_revokes_environment_keys(
    setup: Setup, client: anthropic.Anthropic, server: LiveServer
) -> None:
    environment = client.beta.environments.create(name="operated", config={"type": "self_hosted"})
    made = corral(server, "create", environment.id, "--name", "rack-1")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("sk-ant-oat01-")
    with sdk(server, key) as worker:
        assert worker.beta.environments.work.poll(environment.id) is None
        stored = anyio.run(stored_keys, server.db_url)
        assert (hashlib.sha256(key.encode()).hexdigest(), key[:19]) in stored
        assert all(key not in row for row in stored)  # hashed at rest: the key itself is nowhere
        listed = corral(server, "list", environment.id)
        assert listed.returncode == 0 and key[:19] in listed.stdout and key not in listed.stdout
        key_id = listed.stdout.split("\t", 1)[0]
        assert corral(server, "revoke", environment.id, key_id).returncode == 0
        with pytest.raises(anthropic.AuthenticationError):
            worker.beta.environments.work.poll(environment.id)
    cloud = client.beta.environments.create(name="cloudy", config={"type": "cloud"})
    refused = corral(server, "create", cloud.id)
    assert refused.returncode == 2 and "self_hosted" in refused.stderr
