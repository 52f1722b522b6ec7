"""Credentials as flows that run on either engine; secrets cross this module only sealed or just opened.

Invariants:

* A credential is reached only through its vault and workspace: the wrong vault or workspace is a 404.
* At most ``MAX_PER_VAULT`` active credentials per vault, and ``match_key`` (MCP server URL or variable name)
  unique among them: a duplicate is a 409 with ``x-should-retry: false`` (the partial unique index backs the
  check made in the same transaction, so concurrent creates cannot both win). Nothing is written on refusal.
* Archive purges the secret (``key_id``, ``wrapped_key`` and ``ciphertext`` become NULL) and frees the
  ``match_key``; an archived credential accepts no update; archiving one again returns it unchanged.
* Writes that change secrets seal them again under the active master key with a fresh data key.
"""

from __future__ import annotations

import json

from corral._types import JSONObject, json_object
from corral.db import Flow, Row, UniqueViolation, Where, all_rows, exec_, one
from corral.db.pages import newest_first
from corral.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from corral.outbox import record as webhook
from corral.paging import Cursor, Page
from corral.vault import _vaults
from corral.vault.credentials import MAX_PER_VAULT, Resolved, Secrets, resolve_update
from corral.vault.crypto import Keyring, Sealed, VaultKeyError
from corral.vault.params import CredentialUpdate
from corral.vault.records import CREDENTIAL_COLUMNS, CredentialRecord
from corral.wire import patch_metadata

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
SCOPE = "vault_credentials"


def seal(keyring: Keyring, credential_id: str, secrets: Secrets) -> Sealed:
    return keyring.seal(credential_id, _dumps(secrets).encode())


def unseal(keyring: Keyring, record: CredentialRecord) -> Secrets:
    """The secrets of an active credential (``VaultKeyError`` if they do not open)."""
    if record.sealed is None:
        raise VaultKeyError(f"credential {record.id} holds no secret (archived)")
    value = json_object(json.loads(keyring.open(record.id, record.sealed)))
    if value is None:
        raise VaultKeyError(f"the secret of {record.id} is not a JSON object")
    return {key: str(item) for key, item in value.items()}


def _missing(credential_id: str) -> NotFound:
    return NotFound(f"credential {credential_id} not found")


def _duplicate(resolved_key: str) -> Conflict:
    what = "environment variable" if resolved_key.startswith("env:") else "MCP server URL"
    return Conflict(f"this vault already has an active credential for that {what}", code=ErrorCode.DUPLICATE_CREDENTIAL)


def select(credential_id: str, vault_id: str, workspace_id: str, *, lock: bool = False) -> Flow[CredentialRecord]:
    suffix = "{for_update}" if lock else ""
    row = yield one(f"SELECT {CREDENTIAL_COLUMNS} FROM vault_credentials WHERE id = $1{suffix}", credential_id)
    if row is None or row["workspace_id"] != workspace_id or row["vault_id"] != vault_id:
        yield from _vaults.select(vault_id, workspace_id)  # an unknown vault is reported as such
        raise _missing(credential_id)
    return CredentialRecord.from_row(row)


def _active(credential_id: str, vault_id: str, workspace_id: str) -> Flow[CredentialRecord]:
    yield from _vaults.live(vault_id, workspace_id)
    record = yield from select(credential_id, vault_id, workspace_id, lock=True)
    if record.archived_at is not None:
        raise InvalidRequest(f"credential {credential_id} is archived", code=ErrorCode.CREDENTIAL_ARCHIVED)
    return record


def _check_room(vault_id: str, key: str, credential_id: str) -> Flow[None]:
    rows: list[Row] = yield all_rows(
        "SELECT id, match_key FROM vault_credentials WHERE vault_id = $1 AND archived_at IS NULL", vault_id
    )
    others = [row for row in rows if row["id"] != credential_id]
    if any(row["match_key"] == key for row in others):
        raise _duplicate(key)
    if len(others) >= MAX_PER_VAULT:
        raise InvalidRequest(
            f"a vault holds at most {MAX_PER_VAULT} active credentials; archive or delete one first",
            code=ErrorCode.CREDENTIAL_LIMIT,
        )
    return None


def insert(
    credential_id: str, vault_id: str, workspace_id: str, resolved: Resolved, public: JSONObject, keyring: Keyring
) -> Flow[CredentialRecord]:
    """Store a new credential; ``public`` holds ``display_name``, ``metadata`` and ``updated_at``."""
    yield from _vaults.live(vault_id, workspace_id)
    yield from _check_room(vault_id, resolved.match_key, credential_id)
    sealed = seal(keyring, credential_id, resolved.secrets)
    try:
        yield exec_(
            f"INSERT INTO vault_credentials ({CREDENTIAL_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)",
            credential_id,
            vault_id,
            workspace_id,
            resolved.kind,
            resolved.match_key,
            _dumps({**public, "auth": resolved.auth}),
            sealed.key_id,
            sealed.wrapped_key,
            sealed.ciphertext,
            public["updated_at"],
        )
    except UniqueViolation:
        raise _duplicate(resolved.match_key) from None
    stamp = str(public["updated_at"])
    yield from webhook(workspace_id, "vault_credential.created", credential_id, stamp, {"vault_id": vault_id})
    return (yield from select(credential_id, vault_id, workspace_id))


def get(credential_id: str, vault_id: str, workspace_id: str) -> Flow[CredentialRecord]:
    return (yield from select(credential_id, vault_id, workspace_id))


def _public(record: CredentialRecord, params: CredentialUpdate) -> JSONObject:
    doc = {key: value for key, value in record.doc.items() if key != "updated_at"}
    if "display_name" in params.model_fields_set:
        doc["display_name"] = params.display_name or None
    if "metadata" in params.model_fields_set:
        doc["metadata"] = patch_metadata(record.doc.get("metadata") or {}, params.metadata)
    return doc


def update(
    credential_id: str, vault_id: str, workspace_id: str, params: CredentialUpdate, keyring: Keyring, stamp: str
) -> Flow[CredentialRecord]:
    record = yield from _active(credential_id, vault_id, workspace_id)
    doc = _public(record, params)
    sealed = record.sealed
    if params.auth is not None:
        auth, secrets = resolve_update(record.auth, unseal(keyring, record), params.auth)
        doc["auth"] = auth
        if "refresh_failure" in doc and params.auth.model_fields_set - {"type"}:
            doc["refresh_failure"] = None  # new secrets: an old failure says nothing about them
        sealed = seal(keyring, credential_id, secrets)
    assert sealed is not None  # an active credential always holds a secret
    yield exec_(
        "UPDATE vault_credentials SET doc = $2, key_id = $3, wrapped_key = $4, ciphertext = $5 WHERE id = $1",
        credential_id,
        _dumps({**doc, "updated_at": stamp}),
        sealed.key_id,
        sealed.wrapped_key,
        sealed.ciphertext,
    )
    return (yield from select(credential_id, vault_id, workspace_id))


def archive(credential_id: str, vault_id: str, workspace_id: str, stamp: str) -> Flow[CredentialRecord]:
    record = yield from select(credential_id, vault_id, workspace_id, lock=True)
    if record.archived_at is not None:
        return record
    yield exec_(
        "UPDATE vault_credentials SET archived_at = $2, doc = $3, key_id = NULL, wrapped_key = NULL,"
        " ciphertext = NULL WHERE id = $1",
        credential_id,
        stamp,
        _dumps({**record.doc, "updated_at": stamp}),
    )
    yield from webhook(workspace_id, "vault_credential.archived", credential_id, stamp, {"vault_id": vault_id})
    return (yield from select(credential_id, vault_id, workspace_id))


def delete(credential_id: str, vault_id: str, workspace_id: str, stamp: str) -> Flow[None]:
    yield from select(credential_id, vault_id, workspace_id, lock=True)
    yield exec_("DELETE FROM vault_credentials WHERE id = $1", credential_id)
    yield from webhook(workspace_id, "vault_credential.deleted", credential_id, stamp, {"vault_id": vault_id})
    return None


def page(vault_id: str, workspace_id: str, include_archived: bool, limit: int, cursor: Cursor | None) -> Flow[Page]:
    yield from _vaults.select(vault_id, workspace_id)
    where = Where().equals("vault_id", vault_id)
    if not include_archived:
        where.term("archived_at IS NULL")
    scope = f"{SCOPE}:{vault_id}"
    return (
        yield from newest_first(
            "vault_credentials", CREDENTIAL_COLUMNS, where, limit, cursor, scope, CredentialRecord.from_row
        )
    )
