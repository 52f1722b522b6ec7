"""Environment keys: the standing credential of one self-hosted environment's workers (api.md §10.1).

Invariants:

* A key is ``sk-ant-oat01-`` + 256 random bits, shown once when it is made; only its SHA-256 is stored (the same
  rule, and the same hash, as API keys: ``corral.catalog.keys``), with its first characters (``prefix``) so a
  listing can tell keys apart. A copy of the database grants nothing.
* A key belongs to one environment of one workspace; revoking it is immediate and final (the row stays, with
  ``revoked_at``).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from corral._types import JSONObject, json_object
from corral.catalog.keys import hash_secret
from corral.db import Flow, Row, Value, all_rows, exec_, insert, one
from corral.errors import InvalidRequest, NotFound
from corral.ids import new_id

ENVIRONMENT_KEY_PREFIX = "sk-ant-oat01-"
SESSIONS_TOKEN_PREFIX = "sk-ant-st-"
SHOWN_CHARS = len(ENVIRONMENT_KEY_PREFIX) + 6


@dataclass(frozen=True)
class EnvironmentKey:
    id: str
    workspace_id: str
    environment_id: str
    prefix: str
    name: str
    created_at: str
    revoked_at: str | None
    #: the key itself: only on the record ``create`` returns
    key: str | None = None

    def wire(self) -> JSONObject:
        body: JSONObject = {
            "type": "environment_key",
            "id": self.id,
            "environment_id": self.environment_id,
            "name": self.name,
            "prefix": self.prefix,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }
        if self.key is not None:
            body["key"] = self.key
        return body


def new_key() -> str:
    return ENVIRONMENT_KEY_PREFIX + secrets.token_urlsafe(32)


def new_sessions_token() -> str:
    return SESSIONS_TOKEN_PREFIX + secrets.token_urlsafe(32)


def _key_from(row: Row) -> EnvironmentKey:
    return EnvironmentKey(
        id=str(row["id"]),
        workspace_id=str(row["workspace_id"]),
        environment_id=str(row["environment_id"]),
        prefix=str(row["prefix"]),
        name=str(row["name"]),
        created_at=str(row["created_at"]),
        revoked_at=row["revoked_at"],
    )


def create(workspace_id: str, environment_id: str, name: str, key: str, stamp: str) -> Flow[EnvironmentKey]:
    values: dict[str, Value] = {
        "id": new_id("environment_key"),
        "workspace_id": workspace_id,
        "environment_id": environment_id,
        "key_hash": hash_secret(key),
        "prefix": key[:SHOWN_CHARS],
        "name": name,
        "created_at": stamp,
    }
    yield insert("environment_keys", values)
    row: Row | None = yield one("SELECT * FROM environment_keys WHERE id = $1", values["id"])
    assert row is not None, "inserted just now"
    return EnvironmentKey(**{**_key_from(row).__dict__, "key": key})


def listed(workspace_id: str, environment_id: str) -> Flow[list[EnvironmentKey]]:
    rows: list[Row] = yield all_rows(
        "SELECT * FROM environment_keys WHERE workspace_id = $1 AND environment_id = $2 ORDER BY created_at, id",
        workspace_id,
        environment_id,
    )
    return [_key_from(row) for row in rows]


def revoke(workspace_id: str, environment_id: str, key_id: str, stamp: str) -> Flow[EnvironmentKey]:
    yield exec_(
        "UPDATE environment_keys SET revoked_at = $4"
        " WHERE workspace_id = $1 AND environment_id = $2 AND id = $3 AND revoked_at IS NULL",
        workspace_id,
        environment_id,
        key_id,
        stamp,
    )
    row: Row | None = yield one(
        "SELECT * FROM environment_keys WHERE workspace_id = $1 AND environment_id = $2 AND id = $3",
        workspace_id,
        environment_id,
        key_id,
    )
    if row is None:
        raise NotFound(f"environment key {key_id} not found")
    return _key_from(row)


def self_hosted_workspace(environment_id: str) -> Flow[str]:
    """The workspace of ``environment_id``, an unarchived ``self_hosted`` environment (else 404 / 400)."""
    row: Row | None = yield one("SELECT workspace_id, doc, archived_at FROM environments WHERE id = $1", environment_id)
    if row is None:
        raise NotFound(f"environment {environment_id} not found")
    doc = json_object(json.loads(str(row["doc"]))) or {}
    config = json_object(doc.get("config")) or {}
    if config.get("type") != "self_hosted" or row["archived_at"] is not None:
        raise InvalidRequest(f"environment {environment_id} is not an unarchived self_hosted environment")
    return str(row["workspace_id"])


def lookup(key: str) -> Flow[EnvironmentKey | None]:
    row: Row | None = yield one(
        "SELECT * FROM environment_keys WHERE key_hash = $1 AND revoked_at IS NULL", hash_secret(key)
    )
    return None if row is None else _key_from(row)
