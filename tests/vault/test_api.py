"""``client.beta.vaults`` and ``.vaults.credentials`` through the official SDK, on both engines: every method, the
response forms, pagination, the documented rules and their typed errors."""

from __future__ import annotations

import anthropic
import pytest
from anthropic.types.beta import BetaManagedAgentsDeletedVault, BetaManagedAgentsVault
from anthropic.types.beta.vaults import BetaManagedAgentsCredential, BetaManagedAgentsDeletedCredential

from tests.conformance.helpers import unique, validated
from tests.live import LiveServer
from tests.vault.helpers import bearer, db_rows, new_credential, new_vault, oauth, variable


def test_vault_lifecycle(client: anthropic.Anthropic) -> None:
    vault = new_vault(client, display_name="Alice", metadata={"user": "u1", "tier": "gold"})
    assert vault.id.startswith("vlt_") and vault.type == "vault" and vault.display_name == "Alice"
    assert vault.metadata == {"user": "u1", "tier": "gold"} and vault.archived_at is None
    assert vault.created_at == vault.updated_at
    assert validated(BetaManagedAgentsVault, client.beta.vaults.with_raw_response.retrieve(vault.id)) == vault
    raw = client.beta.vaults.with_raw_response.update(vault.id, display_name="Alice B", metadata={"tier": None})
    updated = validated(BetaManagedAgentsVault, raw)
    assert updated.display_name == "Alice B" and updated.metadata == {"user": "u1"}
    assert updated.updated_at > vault.updated_at and updated.created_at == vault.created_at
    archived = validated(BetaManagedAgentsVault, client.beta.vaults.with_raw_response.archive(vault.id))
    assert archived.archived_at is not None
    assert client.beta.vaults.archive(vault.id).archived_at == archived.archived_at  # one-way, unchanged
    with pytest.raises(anthropic.BadRequestError):
        client.beta.vaults.update(vault.id, display_name="again")
    listed = [v.id for v in client.beta.vaults.list(limit=100)]
    assert vault.id not in listed
    assert vault.id in [v.id for v in client.beta.vaults.list(include_archived=True, limit=100)]
    deleted = validated(BetaManagedAgentsDeletedVault, client.beta.vaults.with_raw_response.delete(vault.id))
    assert deleted.id == vault.id and deleted.type == "vault_deleted"
    with pytest.raises(anthropic.NotFoundError):
        client.beta.vaults.retrieve(vault.id)


def test_vault_list_pages_to_the_end(client: anthropic.Anthropic) -> None:
    made = [new_vault(client).id for _ in range(5)]
    seen = [vault.id for vault in client.beta.vaults.list(limit=2)]  # the SDK's auto-pager follows next_page
    assert len(seen) == len(set(seen))
    assert [vault_id for vault_id in seen if vault_id in made] == made[::-1]  # newest first


def test_credential_kinds_and_their_public_form(client: anthropic.Anthropic) -> None:
    vault = new_vault(client)
    sent_bearer, sent_oauth = bearer(), oauth()
    static = new_credential(client, vault.id, sent_bearer, display_name="Linear", metadata={"k": "v"})
    assert static.id.startswith("vcrd_") and static.vault_id == vault.id and static.type == "vault_credential"
    assert static.display_name == "Linear" and static.metadata == {"k": "v"} and static.archived_at is None
    assert static.auth.model_dump() == {"type": "static_bearer", "mcp_server_url": sent_bearer["mcp_server_url"]}
    oauth_credential = new_credential(client, vault.id, sent_oauth)
    assert oauth_credential.display_name is None
    assert oauth_credential.model_dump(mode="json")["auth"] == {
        "type": "mcp_oauth",
        "mcp_server_url": sent_oauth["mcp_server_url"],
        "expires_at": "2099-01-01T00:00:00Z",
        "refresh": {
            "client_id": "corral-client",
            "token_endpoint": "https://auth.example.com/token",
            "token_endpoint_auth": {"type": "client_secret_basic"},
            "scope": "read write",
            "resource": None,
        },
    }
    env = new_credential(client, vault.id, variable("TWILIO_API_KEY"))
    assert env.auth.model_dump() == {
        "type": "environment_variable",
        "secret_name": "TWILIO_API_KEY",
        "networking": {"type": "limited", "allowed_hosts": ["api.example.com", "*.example.org"]},
        "injection_location": {"header": True, "body": True},  # left out: both
    }
    raw = client.beta.vaults.credentials.with_raw_response.retrieve(env.id, vault_id=vault.id)
    assert validated(BetaManagedAgentsCredential, raw) == env


def test_credential_list_pages_and_archive_filter(client: anthropic.Anthropic) -> None:
    vault = new_vault(client)
    made = [new_credential(client, vault.id, bearer()).id for _ in range(5)]
    client.beta.vaults.credentials.archive(made[0], vault_id=vault.id)
    seen = [c.id for c in client.beta.vaults.credentials.list(vault.id, limit=2)]
    assert seen == made[:0:-1]
    every = [c.id for c in client.beta.vaults.credentials.list(vault.id, limit=2, include_archived=True)]
    assert every == made[::-1]


def test_unknown_objects_are_404(client: anthropic.Anthropic) -> None:
    vault = new_vault(client)
    credential = new_credential(client, vault.id, bearer())
    other_vault = new_vault(client)
    with pytest.raises(anthropic.NotFoundError):
        client.beta.vaults.retrieve("vlt_011CZkZDLs7fYzm1hXNPeRjv")
    with pytest.raises(anthropic.NotFoundError):
        client.beta.vaults.credentials.retrieve("vcrd_011CZkZEMt8gZan2iYPQfSkw", vault_id=vault.id)
    with pytest.raises(anthropic.NotFoundError):  # a credential is reached only through its own vault
        client.beta.vaults.credentials.retrieve(credential.id, vault_id=other_vault.id)
    with pytest.raises(anthropic.NotFoundError):
        client.beta.vaults.credentials.list("vlt_011CZkZDLs7fYzm1hXNPeRjv")
    with pytest.raises(anthropic.NotFoundError):
        client.beta.vaults.credentials.create("not-a-vault", auth=bearer())


def test_mcp_server_url_and_secret_name_are_unique_among_active_credentials(client: anthropic.Anthropic) -> None:
    vault = new_vault(client)
    url = f"https://{unique('mcp')}.example.com/mcp"
    first = new_credential(client, vault.id, bearer(url))
    with pytest.raises(anthropic.ConflictError) as refused:
        client.beta.vaults.credentials.create(vault.id, auth=oauth(url))  # one URL, whatever the kind
    assert refused.value.response.headers["x-should-retry"] == "false"
    new_credential(client, vault.id, variable("SHARED_NAME"))
    with pytest.raises(anthropic.ConflictError):
        client.beta.vaults.credentials.create(vault.id, auth=variable("SHARED_NAME"))
    new_credential(client, new_vault(client).id, bearer(url))  # another vault: no conflict
    client.beta.vaults.credentials.archive(first.id, vault_id=vault.id)  # frees the URL
    assert new_credential(client, vault.id, oauth(url)).auth.type == "mcp_oauth"


def test_a_vault_holds_at_most_twenty_active_credentials(client: anthropic.Anthropic) -> None:
    vault = new_vault(client)
    made = [new_credential(client, vault.id, bearer()).id for _ in range(20)]
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.beta.vaults.credentials.create(vault.id, auth=bearer())
    assert "20" in refused.value.message
    client.beta.vaults.credentials.archive(made[3], vault_id=vault.id)
    new_credential(client, vault.id, bearer())
    client.beta.vaults.credentials.delete(made[4], vault_id=vault.id)
    new_credential(client, vault.id, bearer())
    with pytest.raises(anthropic.BadRequestError):
        client.beta.vaults.credentials.create(vault.id, auth=bearer())


def test_injection_location_rules(client: anthropic.Anthropic) -> None:
    vault = new_vault(client)
    credential = new_credential(client, vault.id, variable(location={"header": True}))
    assert credential.model_dump()["auth"]["injection_location"] == {"header": True, "body": False}
    with pytest.raises(anthropic.BadRequestError):
        client.beta.vaults.credentials.create(vault.id, auth=variable(location={"header": False}))
    with pytest.raises(anthropic.BadRequestError):
        client.beta.vaults.credentials.create(vault.id, auth=variable(location={}))
    update = client.beta.vaults.credentials.update
    merged = update(
        credential.id, vault_id=vault.id, auth={"type": "environment_variable", "injection_location": {"body": True}}
    )
    assert merged.model_dump()["auth"]["injection_location"] == {"header": True, "body": True}  # per field
    moved = update(
        credential.id, vault_id=vault.id, auth={"type": "environment_variable", "injection_location": {"header": False}}
    )
    assert moved.model_dump()["auth"]["injection_location"] == {"header": False, "body": True}
    with pytest.raises(anthropic.BadRequestError):
        update(
            credential.id,
            vault_id=vault.id,
            auth={"type": "environment_variable", "injection_location": {"body": False}},
        )
    with pytest.raises(anthropic.BadRequestError):  # explicit null for the object
        client.post(
            f"/v1/vaults/{vault.id}/credentials/{credential.id}",
            body={"auth": {"type": "environment_variable", "injection_location": None}},
            cast_to=BetaManagedAgentsCredential,
        )
    with pytest.raises(anthropic.BadRequestError):  # or for a field
        client.post(
            f"/v1/vaults/{vault.id}/credentials",
            body={"auth": {**variable(), "injection_location": {"header": None, "body": True}}},
            cast_to=BetaManagedAgentsCredential,
        )
    networking = update(
        credential.id, vault_id=vault.id, auth={"type": "environment_variable", "networking": {"type": "unrestricted"}}
    )
    assert networking.model_dump()["auth"]["networking"] == {"type": "unrestricted"}  # replaced whole
    assert networking.model_dump()["auth"]["injection_location"] == {"header": False, "body": True}


def test_oauth_update_variants(client: anthropic.Anthropic) -> None:
    vault = new_vault(client)
    credential = new_credential(client, vault.id, oauth())
    update = client.beta.vaults.credentials.update
    kept = update(credential.id, vault_id=vault.id, auth={"type": "mcp_oauth", "access_token": "cnry-vlt-new-token"})
    assert kept.model_dump(mode="json")["auth"]["expires_at"] == "2099-01-01T00:00:00Z"  # a new token alone keeps it
    renewed = update(
        credential.id,
        vault_id=vault.id,
        auth={"type": "mcp_oauth", "access_token": "cnry-vlt-newer-token", "expires_at": "2098-06-01T12:00:00Z"},
    )
    assert renewed.model_dump(mode="json")["auth"]["expires_at"] == "2098-06-01T12:00:00Z"
    with pytest.raises(anthropic.BadRequestError):  # must be in the future
        update(credential.id, vault_id=vault.id, auth={"type": "mcp_oauth", "expires_at": "2019-12-27T18:11:19Z"})
    scoped = update(
        credential.id,
        vault_id=vault.id,
        auth={
            "type": "mcp_oauth",
            "refresh": {
                "scope": "",
                "token_endpoint_auth": {"type": "client_secret_post", "client_secret": "cnry-vlt-s"},
            },
        },
    )
    refresh = scoped.model_dump()["auth"]["refresh"]
    assert refresh["scope"] is None  # "" clears
    assert refresh["token_endpoint_auth"] == {"type": "client_secret_basic"}  # the type is kept
    assert refresh["client_id"] == "corral-client"
    with pytest.raises(anthropic.BadRequestError):  # the kind cannot change
        update(credential.id, vault_id=vault.id, auth={"type": "static_bearer", "token": "cnry-vlt-x"})
    display = update(credential.id, vault_id=vault.id, display_name="Notion", metadata={"a": "1"})
    assert display.display_name == "Notion" and display.metadata == {"a": "1"}
    assert display.model_dump()["auth"]["refresh"] == refresh  # auth left out: unchanged
    cleared = update(credential.id, vault_id=vault.id, display_name=None, auth={"type": "mcp_oauth", "refresh": None})
    assert cleared.display_name is None and cleared.model_dump()["auth"]["refresh"] is None
    bare = new_credential(client, vault.id, bearer())
    with pytest.raises(anthropic.BadRequestError):
        update(bare.id, vault_id=vault.id, auth={"type": "static_bearer", "token": None})
    assert update(bare.id, vault_id=vault.id, auth={"type": "static_bearer", "token": "cnry-vlt-t2"}).id == bare.id


def test_archive_purges_the_secret(client: anthropic.Anthropic, server: LiveServer) -> None:
    vault = new_vault(client)
    credential = new_credential(client, vault.id, variable())
    query = f"SELECT key_id, wrapped_key, ciphertext FROM vault_credentials WHERE id = '{credential.id}'"
    assert all(value is not None for value in db_rows(server, query)[0].values())
    raw = client.beta.vaults.credentials.with_raw_response.archive(credential.id, vault_id=vault.id)
    archived = validated(BetaManagedAgentsCredential, raw)
    assert archived.archived_at is not None and archived.auth == credential.auth
    assert db_rows(server, query) == [{"key_id": None, "wrapped_key": None, "ciphertext": None}]
    again = client.beta.vaults.credentials.archive(credential.id, vault_id=vault.id)
    assert again.archived_at == archived.archived_at
    with pytest.raises(anthropic.BadRequestError):
        client.beta.vaults.credentials.update(credential.id, vault_id=vault.id, display_name="x")
    deleted = client.beta.vaults.credentials.with_raw_response.delete(credential.id, vault_id=vault.id)
    assert validated(BetaManagedAgentsDeletedCredential, deleted).type == "vault_credential_deleted"
    with pytest.raises(anthropic.NotFoundError):
        client.beta.vaults.credentials.retrieve(credential.id, vault_id=vault.id)


def test_archiving_a_vault_archives_its_credentials(client: anthropic.Anthropic, server: LiveServer) -> None:
    vault = new_vault(client)
    made = [new_credential(client, vault.id, kind).id for kind in (bearer(), oauth(), variable())]
    client.beta.vaults.archive(vault.id)
    listed = client.beta.vaults.credentials.list(vault.id, include_archived=True)
    assert sorted(c.id for c in listed.data if c.archived_at is not None) == sorted(made)
    held = db_rows(
        server, f"SELECT count(*) AS n FROM vault_credentials WHERE vault_id = '{vault.id}' AND ciphertext IS NOT NULL"
    )
    assert int(held[0]["n"]) == 0
    with pytest.raises(anthropic.BadRequestError):
        client.beta.vaults.credentials.create(vault.id, auth=bearer())
    client.beta.vaults.delete(vault.id)
    assert db_rows(server, f"SELECT id FROM vault_credentials WHERE vault_id = '{vault.id}'") == []


def test_another_workspace_sees_nothing(client: anthropic.Anthropic, other: anthropic.Anthropic) -> None:
    vault = new_vault(client)
    credential = new_credential(client, vault.id, bearer())
    calls = [
        lambda: other.beta.vaults.retrieve(vault.id),
        lambda: other.beta.vaults.update(vault.id, display_name="stolen"),
        lambda: other.beta.vaults.archive(vault.id),
        lambda: other.beta.vaults.delete(vault.id),
        lambda: other.beta.vaults.credentials.create(vault.id, auth=bearer()),
        lambda: other.beta.vaults.credentials.list(vault.id),
        lambda: other.beta.vaults.credentials.retrieve(credential.id, vault_id=vault.id),
        lambda: other.beta.vaults.credentials.update(credential.id, vault_id=vault.id, display_name="stolen"),
        lambda: other.beta.vaults.credentials.archive(credential.id, vault_id=vault.id),
        lambda: other.beta.vaults.credentials.mcp_oauth_validate(credential.id, vault_id=vault.id),
        lambda: other.beta.vaults.credentials.delete(credential.id, vault_id=vault.id),
    ]
    for call in calls:
        with pytest.raises(anthropic.NotFoundError):
            call()
    assert vault.id not in [v.id for v in other.beta.vaults.list(include_archived=True, limit=100)]
    assert client.beta.vaults.credentials.retrieve(credential.id, vault_id=vault.id).display_name is None
