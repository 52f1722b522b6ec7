"""Master key rotation: ``VaultStore.rotate_key`` on both engines, and ``corral vault rotate-key`` end to end."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from corral.db import Database, Flow, Row, all_rows
from corral.testing.http import ThreadedServer
from corral.vault import Keyring, MasterKey, MCPCredential, VaultStore, new_entry, parse_keyring
from corral.vault import rotation as rotation_module
from corral.vault.crypto import Sealed, new_key_material
from corral.vault.params import CredentialCreate, VaultCreate
from tests.conftest import database_url
from tests.live import LiveServer, live_server
from tests.vault.conftest import Bodies, sdk
from tests.vault.helpers import canary, db_rows, new_credential, new_vault, oauth
from tests.vault.servers import MCPServer

WORKSPACE = "wrkspc_default"


def _sealed() -> Flow[list[Row]]:
    rows: list[Row] = yield all_rows("SELECT id, key_id, wrapped_key, ciphertext FROM vault_credentials ORDER BY id")
    return rows


def bearer(token: str) -> CredentialCreate:
    auth = {"type": "static_bearer", "mcp_server_url": f"https://{token}.example.com/mcp", "token": token}
    return CredentialCreate.model_validate({"auth": auth})


@pytest.mark.anyio
async def test_rotation_rewraps_every_data_key_and_can_be_resumed(database: Database) -> None:
    old = Keyring([MasterKey("old", new_key_material())])
    tokens = [canary() for _ in range(5)]
    store = VaultStore(database, old)
    vault = await store.create_vault(WORKSPACE, VaultCreate(display_name="v"))
    for token in tokens:
        await store.create_credential(WORKSPACE, vault.id, bearer(token))
    await store.aclose()
    stranger = VaultStore(database, Keyring([MasterKey("elsewhere", new_key_material())]))
    lost = await stranger.create_credential(WORKSPACE, vault.id, bearer(canary()))
    await stranger.aclose()
    before = {row["id"]: row for row in await database.read(_sealed)}
    both = Keyring([MasterKey("new", new_key_material()), old.active])
    first_two = [
        Sealed(r["key_id"], r["wrapped_key"], r["ciphertext"]) for r in before.values() if r["key_id"] == "old"
    ]
    ids = [row["id"] for row in before.values() if row["key_id"] == "old"]
    swaps = [(ids[i], first_two[i], both.rewrap(ids[i], first_two[i])) for i in range(2)]
    assert await database.write(rotation_module.swap, swaps) == 2  # an earlier run, interrupted
    store = VaultStore(database, both)
    report = await store.rotate_key()
    assert (report.rewrapped, report.current, report.unreadable) == (3, 5, [lost.id])
    after = {row["id"]: row for row in await database.read(_sealed)}
    assert all(after[i]["ciphertext"] == before[i]["ciphertext"] for i in before)  # no secret re-encrypted
    assert after[lost.id] == before[lost.id]
    assert (await store.rotate_key()).rewrapped == 0  # idempotent
    await store.aclose()
    only_new = VaultStore(database, Keyring([both.active]))
    live = await only_new.access.credentials_for(WORKSPACE, [vault.id])
    assert sorted(c.token for c in live if isinstance(c, MCPCredential)) == sorted(tokens)
    await only_new.aclose()


@pytest.fixture
def rotating(tmp_path: Path) -> Iterator[LiveServer]:
    """One engine is enough here: the rotation's flows run on both in the test above; this is the command."""
    db_url = anyio.run(database_url, "sqlite", tmp_path)
    env = {"CORRAL_WORKERS": "0", "CORRAL_EGRESS_ALLOW_PRIVATE": "127.0.0.1"}  # the test's MCP server: loopback
    with live_server(db_url, data_dir=tmp_path / "data", env=env) as running:
        yield running


def rotate_cli(server: LiveServer) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "corral", "vault", "rotate-key"],
        env=server.server_env(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    return done.stdout.decode()


def test_the_rotate_key_command_moves_secrets_to_the_new_key(rotating: LiveServer) -> None:
    mcp = MCPServer()
    with ThreadedServer(mcp) as running:
        client = sdk(rotating, Bodies())  # the server restarts below: a client of its own, closed at the end
        auth = oauth(f"{running.url}/mcp")
        mcp.accepted.add(auth["access_token"])
        vault = new_vault(client)
        credential = new_credential(client, vault.id, auth)
        key_file = rotating.data_dir / "vault.key"
        old = parse_keyring(key_file.read_text(), "file").active
        new = new_entry()
        key_file.write_text(f"{new}\n{key_file.read_text()}")  # the command reads the key file itself
        assert f"1 data key(s) re-wrapped under {new.split(':')[0]}; 1 secret(s)" in rotate_cli(rotating)
        assert db_rows(rotating, "SELECT key_id FROM vault_credentials") == [{"key_id": new.split(":")[0]}]
        key_file.write_text(new + "\n")  # the old key retired
        rotating.restart()
        with sdk(rotating, Bodies()) as fresh:
            result = fresh.beta.vaults.credentials.mcp_oauth_validate(credential.id, vault_id=vault.id)
        assert result.status == "valid" and old.key_id not in key_file.read_text()
        client.close()


@pytest.mark.anyio
async def test_a_process_without_the_key_says_which_keys_it_lacks(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    store = VaultStore(database, Keyring([MasterKey("shared", new_key_material())]))
    vault = await store.create_vault(WORKSPACE, VaultCreate(display_name="v"))
    await store.create_credential(WORKSPACE, vault.id, bearer(canary()))
    assert await store.missing_keys() == []
    await store.aclose()
    alone = VaultStore(database, parse_keyring(new_entry(), "own key"))
    assert await alone.missing_keys() == ["shared"]
    assert "shared" in caplog.text and "CORRAL_VAULT_KEY" in caplog.text
    assert await alone.access.credentials_for(WORKSPACE, [vault.id]) == []  # left out, logged, never raised
    await alone.aclose()
