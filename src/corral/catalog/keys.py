"""Workspaces and API keys.

Invariants:

* A key is a random secret (``sk-corral-`` + 256 bits) shown once, when it is made; only its SHA-256 is
  stored, so a copy of the database grants nothing. (A fast hash is right here: the secret has full entropy,
  so there is nothing for a slow hash to protect.)
* Every object belongs to exactly one workspace. ``wrkspc_default`` always exists; the operator's
  ``CORRAL_API_KEY`` acts as an admin key of it.
* A key is never deleted: revoking stamps ``revoked_at`` and every lookup skips revoked keys, so revocation holds
  from the next lookup on (nothing caches a key across requests). A listing shows a key's ``prefix`` (its first
  characters, enough to tell keys apart, far too few to guess the rest) and never its hash.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass

from corral._types import JSONObject
from corral.db import Flow, Row, all_rows, exec_, one
from corral.errors import NotFound
from corral.ids import new_id

DEFAULT_WORKSPACE_ID = "wrkspc_default"
DEFAULT_WORKSPACE_NAME = "default"
KEY_PREFIX = "sk-corral-"
SHOWN_CHARS = len(KEY_PREFIX) + 6  # what a listing shows of a secret: 36 bits of its 256


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def ensure_workspace(workspace_id: str, name: str, stamp: str) -> Flow[str]:
    yield exec_(
        "INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        workspace_id,
        name,
        stamp,
    )
    return workspace_id


def workspace_named(name: str, stamp: str) -> Flow[str]:
    """The oldest workspace called ``name``, created if there is none."""
    if name == DEFAULT_WORKSPACE_NAME:
        return (yield from ensure_workspace(DEFAULT_WORKSPACE_ID, name, stamp))
    row = yield one("SELECT id FROM workspaces WHERE name = $1 ORDER BY created_at, id LIMIT 1", name)
    if row is not None:
        return str(row["id"])
    return (yield from ensure_workspace(new_id("workspace"), name, stamp))


@dataclass(frozen=True)
class KeyRecord:
    """What a listing shows of a key (never its secret nor its hash)."""

    id: str
    workspace_id: str
    name: str
    prefix: str | None
    admin: bool
    created_at: str
    last_used_at: str | None
    revoked_at: str | None

    def wire(self) -> JSONObject:
        return {"type": "api_key", **asdict(self)}


_COLUMNS = "id, workspace_id, name, prefix, admin, created_at, last_used_at, revoked_at"


def _record(row: Row) -> KeyRecord:
    def text(name: str) -> str | None:
        value = row[name]
        return None if value is None else str(value)

    return KeyRecord(
        id=str(row["id"]),
        workspace_id=str(row["workspace_id"]),
        name=str(row["name"]),
        prefix=text("prefix"),
        admin=bool(row["admin"]),
        created_at=str(row["created_at"]),
        last_used_at=text("last_used_at"),
        revoked_at=text("revoked_at"),
    )


def insert_key(workspace_name: str, secret: str, key_name: str, stamp: str, *, admin: bool = False) -> Flow[KeyRecord]:
    """Store (the hash of) ``secret`` as a key of the workspace called ``workspace_name``."""
    workspace_id = yield from workspace_named(workspace_name, stamp)
    key_id = new_id("api_key")
    yield exec_(
        "INSERT INTO api_keys (id, workspace_id, key_hash, name, created_at, revoked_at, admin, prefix)"
        " VALUES ($1, $2, $3, $4, $5, NULL, $6, $7)",
        key_id,
        workspace_id,
        hash_secret(secret),
        key_name,
        stamp,
        int(admin),
        secret[:SHOWN_CHARS],
    )
    return KeyRecord(key_id, workspace_id, key_name, secret[:SHOWN_CHARS], admin, stamp, None, None)


def lookup(key_hash: str) -> Flow[KeyRecord | None]:
    """The live (unrevoked) key with this hash."""
    row = yield one(f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", key_hash)
    return None if row is None else _record(row)


def is_live(key_id: str) -> Flow[bool]:
    row = yield one("SELECT id FROM api_keys WHERE id = $1 AND revoked_at IS NULL", key_id)
    return row is not None


def list_keys() -> Flow[list[KeyRecord]]:
    """Every key, revoked ones included (marked), oldest first."""
    rows = yield all_rows(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, id")
    return [_record(row) for row in rows]


def revoke(key_id: str, stamp: str) -> Flow[KeyRecord]:
    """Revoke a key (idempotent: a revoked key keeps its first ``revoked_at``)."""
    yield exec_("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", key_id, stamp)
    row = yield one(f"SELECT {_COLUMNS} FROM api_keys WHERE id = $1", key_id)
    if row is None:
        raise NotFound(f"API key {key_id} not found")
    return _record(row)


def touch(key_id: str, stamp: str) -> Flow[None]:
    yield exec_("UPDATE api_keys SET last_used_at = $2 WHERE id = $1", key_id, stamp)


def any_key() -> Flow[bool]:
    row = yield one("SELECT id FROM api_keys WHERE revoked_at IS NULL LIMIT 1")
    return row is not None
