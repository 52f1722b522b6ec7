"""Workspaces and API keys.

Invariants:

* A key is a random secret (``sk-corral-`` + 256 bits) shown once, when it is made; only its SHA-256 is
  stored, so a copy of the database grants nothing. (A fast hash is right here: the secret has full entropy,
  so there is nothing for a slow hash to protect.)
* Every object belongs to exactly one workspace. ``wrkspc_default`` always exists; the operator's
  ``CORRAL_API_KEY`` acts as an admin key of it.
"""

from __future__ import annotations

import hashlib
import secrets

from corral.db import Flow, exec_, one
from corral.ids import new_id

DEFAULT_WORKSPACE_ID = "wrkspc_default"
DEFAULT_WORKSPACE_NAME = "default"
KEY_PREFIX = "sk-corral-"


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


def insert_key(workspace_name: str, key_hash: str, key_name: str, stamp: str) -> Flow[tuple[str, str]]:
    """Store a key of the workspace called ``workspace_name``; returns ``(key_id, workspace_id)``."""
    workspace_id = yield from workspace_named(workspace_name, stamp)
    key_id = new_id("api_key")
    yield exec_(
        "INSERT INTO api_keys (id, workspace_id, key_hash, name, created_at, revoked_at)"
        " VALUES ($1, $2, $3, $4, $5, NULL)",
        key_id,
        workspace_id,
        key_hash,
        key_name,
        stamp,
    )
    return key_id, workspace_id


def lookup(key_hash: str) -> Flow[tuple[str, str] | None]:
    row = yield one("SELECT id, workspace_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", key_hash)
    return None if row is None else (str(row["id"]), str(row["workspace_id"]))


def any_key() -> Flow[bool]:
    row = yield one("SELECT id FROM api_keys WHERE revoked_at IS NULL LIMIT 1")
    return row is not None
