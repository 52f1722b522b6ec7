"""``corral environments keys create|list|revoke``: an operator's environment keys, straight on the database (a
SQLite file here, no server: the commands' flows are the API's, which run on both engines); only a key's hash is
stored."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from corral.catalog import Catalog
from corral.catalog.params import EnvironmentCreate
from corral.db import Flow, Row, all_rows
from corral.db.engines import open_database
from corral.work import WorkQueue

pytestmark = pytest.mark.timeout(300)  # four cold starts of the `corral` command


def corral(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "CORRAL_DATA_DIR": str(tmp / "data")}
    env["CORRAL_DATABASE_URL"] = f"sqlite:///{tmp / 'corral.db'}"
    command = [sys.executable, "-m", "corral", "environments", "keys", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


def _stored() -> Flow[list[tuple[str, str]]]:
    rows: list[Row] = yield all_rows("SELECT key_hash, prefix FROM environment_keys")
    return [(str(row["key_hash"]), str(row["prefix"])) for row in rows]


async def environments(tmp: Path) -> tuple[str, str]:
    """A self_hosted and a cloud environment of the default workspace, made in a fresh database."""
    db = open_database(f"sqlite:///{tmp / 'corral.db'}")
    await db.open()
    try:
        catalog = Catalog(db)
        await catalog.ensure_default_workspace()
        made = [
            await catalog.create_environment("wrkspc_default", EnvironmentCreate.model_validate(body))
            for body in ({"name": "rack", "config": {"type": "self_hosted"}}, {"name": "cloud"})
        ]
        return made[0].id, made[1].id
    finally:
        await db.close()


async def stored_and_valid(tmp: Path, key: str) -> tuple[list[tuple[str, str]], bool]:
    db = open_database(f"sqlite:///{tmp / 'corral.db'}")
    await db.open()
    queue = WorkQueue(db, 90)
    try:
        return await db.read(_stored), await queue.key_for(key) is not None
    finally:
        queue.close()
        await db.close()


def test_an_operator_makes_lists_and_revokes_environment_keys(tmp_path: Path) -> None:
    self_hosted, cloud = anyio.run(environments, tmp_path)
    made = corral(tmp_path, "create", self_hosted, "--name", "rack-1")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("sk-ant-oat01-")
    stored, valid = anyio.run(stored_and_valid, tmp_path, key)
    assert valid and stored == [(hashlib.sha256(key.encode()).hexdigest(), key[:19])]  # the key itself: nowhere
    listed = corral(tmp_path, "list", self_hosted)
    assert listed.returncode == 0 and key[:19] in listed.stdout and key not in listed.stdout
    key_id = listed.stdout.split("\t", 1)[0]
    assert corral(tmp_path, "revoke", self_hosted, key_id).returncode == 0
    assert anyio.run(stored_and_valid, tmp_path, key)[1] is False  # revoked: refused at once
    refused = corral(tmp_path, "create", cloud)
    assert refused.returncode == 2 and "self_hosted" in refused.stderr
