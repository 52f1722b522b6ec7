"""Flows of the vault's own background work: reading live credentials, storing refreshed tokens and failures.

Invariants:

* ``live`` returns only active credentials of vaults that are of the workspace and not archived, in the order
  of the ``vault_ids`` given, oldest credential first within a vault.
* ``store_refreshed`` is a compare-and-set on the sealed secret it started from: a refresh that raced with an
  update through the API (or with another process's refresh) writes nothing, so no newer secret is ever
  overwritten by an older exchange.
"""

from __future__ import annotations

import json

from corral._types import JSONObject
from corral.db import Flow, Row, Where, all_rows, exec_, one
from corral.outbox import record as webhook
from corral.vault import _vaults
from corral.vault.crypto import Sealed
from corral.vault.records import CREDENTIAL_COLUMNS, CredentialRecord

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def live(workspace_id: str, vault_ids: list[str]) -> Flow[list[CredentialRecord]]:
    usable = yield from _vaults.usable(workspace_id, vault_ids)
    if not usable:
        return []
    where = Where().equals("workspace_id", workspace_id).one_of("vault_id", usable).term("archived_at IS NULL")
    rows: list[Row] = yield all_rows(
        f"SELECT {CREDENTIAL_COLUMNS} FROM vault_credentials WHERE {where} ORDER BY created_at, id", *where.args
    )
    records = [CredentialRecord.from_row(row) for row in rows]
    rank = {vault_id: index for index, vault_id in enumerate(usable)}
    return sorted(records, key=lambda record: rank[record.vault_id])  # stable: creation order within a vault


def by_id(credential_id: str) -> Flow[CredentialRecord | None]:
    row = yield one(f"SELECT {CREDENTIAL_COLUMNS} FROM vault_credentials WHERE id = $1", credential_id)
    return None if row is None else CredentialRecord.from_row(row)


def store_refreshed(record: CredentialRecord, doc: JSONObject, sealed: Sealed) -> Flow[bool]:
    """Write the refreshed token if the credential still holds the secret ``record`` was read with."""
    assert record.sealed is not None
    changed: int = yield exec_(
        "UPDATE vault_credentials SET doc = $2, key_id = $3, wrapped_key = $4, ciphertext = $5"
        " WHERE id = $1 AND ciphertext = $6 AND archived_at IS NULL",
        record.id,
        _dumps(doc),
        sealed.key_id,
        sealed.wrapped_key,
        sealed.ciphertext,
        record.sealed.ciphertext,
    )
    return changed == 1


def store_failure(credential_id: str, failure: JSONObject, stamp: str) -> Flow[None]:
    """Record a failed refresh on the credential (``doc.refresh_failure``), whatever else changed meanwhile."""
    row = yield one(
        "SELECT doc, vault_id, workspace_id FROM vault_credentials WHERE id = $1{for_update}", credential_id
    )
    if row is None:
        return None
    doc = {**json.loads(row["doc"]), "refresh_failure": failure}
    yield exec_("UPDATE vault_credentials SET doc = $2 WHERE id = $1", credential_id, _dumps(doc))
    extra: JSONObject = {"vault_id": str(row["vault_id"])}
    yield from webhook(str(row["workspace_id"]), "vault_credential.refresh_failed", credential_id, stamp, extra)
    return None


def key_ids() -> Flow[list[str]]:
    """The master key ids that wrap at least one stored secret (credentials and session resources' tokens)."""
    rows: list[Row] = yield all_rows(
        "SELECT key_id FROM vault_credentials WHERE ciphertext IS NOT NULL"
        " UNION SELECT key_id FROM session_resource_tokens ORDER BY key_id"
    )
    return [str(row["key_id"]) for row in rows]
