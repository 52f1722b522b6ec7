"""Vaults as flows that run on either engine.

Invariants:

* A vault of another workspace is indistinguishable from one that does not exist (404).
* Archive is one-way and archives every active credential of the vault in the same transaction, purging their
  secrets; archiving an archived vault returns it unchanged. An archived vault accepts no update, no new
  credential and no new session.
* Delete removes the vault and all its credentials (secrets included) in one transaction.
"""

from __future__ import annotations

import json

from corral._types import JSONObject
from corral.db import Flow, Row, Where, all_rows, exec_, one
from corral.db.pages import newest_first
from corral.errors import ErrorCode, InvalidRequest, NotFound
from corral.outbox import record as webhook
from corral.paging import Cursor, Page
from corral.vault.params import VaultUpdate
from corral.vault.records import VAULT_COLUMNS, VaultRecord
from corral.wire import patch_metadata

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
SCOPE = "vaults"


def missing(vault_id: str) -> NotFound:
    return NotFound(f"vault {vault_id} not found")


def select(vault_id: str, workspace_id: str, *, lock: bool = False) -> Flow[VaultRecord]:
    suffix = "{for_update}" if lock else ""
    row = yield one(f"SELECT {VAULT_COLUMNS} FROM vaults WHERE id = $1{suffix}", vault_id)
    if row is None or row["workspace_id"] != workspace_id:
        raise missing(vault_id)
    return VaultRecord.from_row(row)


def live(vault_id: str, workspace_id: str) -> Flow[VaultRecord]:
    """The vault, locked, refusing an archived one (what adding or changing a credential needs)."""
    vault = yield from select(vault_id, workspace_id, lock=True)
    if vault.archived_at is not None:
        raise InvalidRequest(f"vault {vault_id} is archived", code=ErrorCode.VAULT_ARCHIVED)
    return vault


def insert(vault_id: str, workspace_id: str, doc: JSONObject, stamp: str) -> Flow[VaultRecord]:
    yield exec_(
        f"INSERT INTO vaults ({VAULT_COLUMNS}) VALUES ($1, $2, $3, $4, NULL)",
        vault_id,
        workspace_id,
        _dumps({**doc, "updated_at": stamp}),
        stamp,
    )
    yield from webhook(workspace_id, "vault.created", vault_id, stamp)
    return (yield from select(vault_id, workspace_id))


def get(vault_id: str, workspace_id: str) -> Flow[VaultRecord]:
    return (yield from select(vault_id, workspace_id))


def update(vault_id: str, workspace_id: str, params: VaultUpdate, stamp: str) -> Flow[VaultRecord]:
    current = yield from live(vault_id, workspace_id)
    doc = {key: value for key, value in current.doc.items() if key != "updated_at"}
    sent = params.model_fields_set
    if "display_name" in sent:
        if params.display_name is None:
            raise InvalidRequest("display_name cannot be null: a vault always has one")
        doc["display_name"] = params.display_name
    if "metadata" in sent:
        doc["metadata"] = patch_metadata(current.doc.get("metadata") or {}, params.metadata)
    if doc == {key: value for key, value in current.doc.items() if key != "updated_at"}:
        return current
    yield exec_("UPDATE vaults SET doc = $2 WHERE id = $1", vault_id, _dumps({**doc, "updated_at": stamp}))
    return (yield from select(vault_id, workspace_id))


def archive(vault_id: str, workspace_id: str, stamp: str) -> Flow[VaultRecord]:
    vault = yield from select(vault_id, workspace_id, lock=True)
    if vault.archived_at is not None:
        return vault
    yield exec_(
        "UPDATE vault_credentials SET archived_at = $2, key_id = NULL, wrapped_key = NULL, ciphertext = NULL"
        " WHERE vault_id = $1 AND archived_at IS NULL",
        vault_id,
        stamp,
    )
    doc = _dumps({**vault.doc, "updated_at": stamp})
    yield exec_("UPDATE vaults SET archived_at = $2, doc = $3 WHERE id = $1", vault_id, stamp, doc)
    yield from webhook(workspace_id, "vault.archived", vault_id, stamp)
    return (yield from select(vault_id, workspace_id))


def delete(vault_id: str, workspace_id: str, stamp: str) -> Flow[None]:
    yield from select(vault_id, workspace_id, lock=True)
    yield exec_("DELETE FROM vault_credentials WHERE vault_id = $1", vault_id)
    yield exec_("DELETE FROM vaults WHERE id = $1", vault_id)
    yield from webhook(workspace_id, "vault.deleted", vault_id, stamp)
    return None


def page(workspace_id: str, include_archived: bool, limit: int, cursor: Cursor | None) -> Flow[Page]:
    where = Where().equals("workspace_id", workspace_id)
    if not include_archived:
        where.term("archived_at IS NULL")
    return (yield from newest_first("vaults", VAULT_COLUMNS, where, limit, cursor, SCOPE, VaultRecord.from_row))


def usable(workspace_id: str, vault_ids: list[str]) -> Flow[list[str]]:
    """The ids of ``vault_ids`` that name vaults of the workspace that are not archived, in the order given."""
    if not vault_ids:
        return []
    where = Where().equals("workspace_id", workspace_id).one_of("id", list(dict.fromkeys(vault_ids)))
    rows: list[Row] = yield all_rows(f"SELECT id FROM vaults WHERE {where} AND archived_at IS NULL", *where.args)
    found = {str(row["id"]) for row in rows}
    return [vault_id for vault_id in vault_ids if vault_id in found]


def attachable(workspace_id: str, vault_ids: list[str]) -> Flow[None]:
    """Refuse ``vault_ids`` unless each names a vault of the workspace (404) that is not archived (400)."""
    for vault_id in vault_ids:
        vault = yield from select(vault_id, workspace_id)
        if vault.archived_at is not None:
            raise InvalidRequest(f"vault {vault_id} is archived", code=ErrorCode.VAULT_ARCHIVED)
    return None
