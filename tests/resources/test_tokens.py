"""A repository's ``authorization_token`` is write-only: sealed by the vault's keyring in its own table, read back
only through ``VaultStore.resource_tokens.get``, gone with its resource or its session, re-wrapped by key
rotation, and never in a response, the session's doc, its events, the server's log or the database in clear."""

from __future__ import annotations

import json
import secrets

import anthropic
import anyio
import httpx2
import pytest

from corral.db import Database
from corral.db.engines import open_database
from corral.vault import Keyring, MasterKey, VaultStore, load_keyring
from corral.vault.crypto import VaultKeyError, new_key_material
from corral.vault.resource_tokens import ResourceTokens
from tests.live import LiveServer
from tests.resources.helpers import TOKEN_PREFIX, add_raw, as_file, as_repository, created, id_of, repo
from tests.vault.conftest import Bodies
from tests.vault.helpers import db_rows
from tests.vault.test_secrets_never_leave import stored_bytes

WORKSPACE = "wrkspc_default"
MARK = TOKEN_PREFIX.encode()


def token() -> str:
    return TOKEN_PREFIX + secrets.token_hex(8)


async def _stored_token(server: LiveServer, session_id: str, resource_id: str) -> str | None:
    keyring = await anyio.to_thread.run_sync(load_keyring, None, server.data_dir)
    db = open_database(server.db_url)
    await db.open()
    try:
        return await ResourceTokens(db, keyring).get(WORKSPACE, session_id, resource_id)
    finally:
        await db.close()


def stored_token(server: LiveServer, session_id: str, resource_id: str) -> str | None:
    return anyio.run(_stored_token, server, session_id, resource_id)


def token_rows(server: LiveServer, session_id: str) -> int:
    rows = db_rows(server, f"SELECT count(*) AS n FROM session_resource_tokens WHERE session_id = '{session_id}'")
    return int(rows[0]["n"])


def test_tokens_are_sealed_rotated_and_dropped(client: anthropic.Anthropic, server: LiveServer) -> None:
    first, added, rotated = token(), token(), token()
    session = created(client, [repo(authorization_token=first), repo("https://example.com/o/public")])
    private, public = (as_repository(resource) for resource in session.resources)
    assert stored_token(server, session.id, private.id) == first
    assert stored_token(server, session.id, public.id) is None
    extra = id_of(add_raw(client, session.id, repo("https://example.com/o/extra", authorization_token=added)))
    assert stored_token(server, session.id, extra) == added
    client.beta.sessions.resources.update(private.id, session_id=session.id, authorization_token=rotated)
    assert stored_token(server, session.id, private.id) == rotated
    client.beta.sessions.resources.update(public.id, session_id=session.id, authorization_token=first)
    assert stored_token(server, session.id, public.id) == first  # a public repository may take one later
    assert token_rows(server, session.id) == 3
    client.beta.sessions.resources.delete(private.id, session_id=session.id)
    assert stored_token(server, session.id, private.id) is None and token_rows(server, session.id) == 2
    with pytest.raises(anthropic.NotFoundError):  # no resource, no token stored for it
        client.beta.sessions.resources.update(private.id, session_id=session.id, authorization_token=token())
    assert token_rows(server, session.id) == 2
    client.beta.sessions.delete(session.id)
    assert token_rows(server, session.id) == 0


def test_a_refused_request_stores_no_token(client: anthropic.Anthropic, server: LiveServer) -> None:
    session = created(client, [{"type": "file", "file_id": client.beta.files.upload(file=("a", b"a")).id}])
    file = as_file(session.resources[0])
    with pytest.raises(anthropic.BadRequestError):  # the mount path clashes: the token is not kept either
        add_raw(client, session.id, repo(authorization_token=token(), mount_path=file.mount_path))
    with pytest.raises(anthropic.BadRequestError):
        client.beta.sessions.resources.update(file.id, session_id=session.id, authorization_token=token())
    assert token_rows(server, session.id) == 0


def test_no_token_is_ever_sent_logged_or_stored_in_clear(
    client: anthropic.Anthropic, server: LiveServer, bodies: Bodies
) -> None:
    session = created(client, [repo(authorization_token=token(), checkout={"type": "branch", "name": "main"})])
    resource = as_repository(session.resources[0])
    client.beta.sessions.resources.update(resource.id, session_id=session.id, authorization_token=token())
    add_raw(client, session.id, repo("https://example.com/o/two", authorization_token=token()))
    refusals = [
        repo("ftp://example.com/o/r", authorization_token=token()),
        {**repo(authorization_token=token()), "unknown": token()},
        repo(authorization_token=token(), checkout={"type": "commit", "sha": token()}),
    ]
    for body in refusals:
        with pytest.raises(anthropic.BadRequestError):
            client.post(f"/v1/sessions/{session.id}/resources", body=body, cast_to=httpx2.Response)
    events = client.get(f"/v1/sessions/{session.id}/events", cast_to=httpx2.Response)
    listed = client.get(f"/v1/sessions/{session.id}/resources", cast_to=httpx2.Response)
    doc = db_rows(server, f"SELECT doc FROM sessions WHERE id = '{session.id}'")[0]["doc"]
    assert json.loads(doc)["resources"][0]["id"] == resource.id  # the doc was read
    assert MARK not in doc.encode() and MARK not in events.content and MARK not in listed.content
    assert bodies.seen and not [body for body in bodies.seen if MARK in body]
    assert MARK not in server.log_path.read_bytes()
    stored = stored_bytes(server)
    assert resource.id.encode() in stored and MARK not in stored


@pytest.mark.anyio
async def test_resource_tokens_open_only_for_their_owner_and_rotate(database: Database) -> None:
    old = Keyring([MasterKey("old", new_key_material())])
    store = VaultStore(database, old)
    tokens = store.resource_tokens
    await tokens.put(WORKSPACE, "sesn_a", "sesrsc_1", "one")
    await tokens.put(WORKSPACE, "sesn_a", "sesrsc_2", "two")
    await tokens.put(WORKSPACE, "sesn_b", "sesrsc_3", "three")
    assert await tokens.get(WORKSPACE, "sesn_a", "sesrsc_1") == "one"
    assert await tokens.get("wrkspc_other", "sesn_a", "sesrsc_1") is None
    assert await tokens.get(WORKSPACE, "sesn_b", "sesrsc_1") is None
    await tokens.put(WORKSPACE, "sesn_a", "sesrsc_1", "uno")
    assert await tokens.get(WORKSPACE, "sesn_a", "sesrsc_1") == "uno"
    await store.aclose()
    both = Keyring([MasterKey("new", new_key_material()), old.active])
    rotating = VaultStore(database, both)
    report = await rotating.rotate_key()
    assert (report.rewrapped, report.current, report.unreadable) == (3, 3, [])
    await rotating.aclose()
    only_new = VaultStore(database, Keyring([both.active]))
    assert await only_new.resource_tokens.get(WORKSPACE, "sesn_a", "sesrsc_1") == "uno"
    assert await only_new.missing_keys() == []
    await only_new.resource_tokens.drop("sesn_a", "sesrsc_1")
    assert await only_new.resource_tokens.get(WORKSPACE, "sesn_a", "sesrsc_1") is None
    assert await only_new.resource_tokens.get(WORKSPACE, "sesn_a", "sesrsc_2") == "two"
    await only_new.resource_tokens.drop("sesn_a")
    assert await only_new.resource_tokens.get(WORKSPACE, "sesn_a", "sesrsc_2") is None
    assert await only_new.resource_tokens.get(WORKSPACE, "sesn_b", "sesrsc_3") == "three"
    await only_new.aclose()
    stale = VaultStore(database, old)
    with pytest.raises(VaultKeyError):  # its master key is gone from this keyring
        await stale.resource_tokens.get(WORKSPACE, "sesn_b", "sesrsc_3")
    await stale.aclose()
