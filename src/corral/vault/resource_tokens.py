"""The ``authorization_token`` of a session's ``github_repository`` resources: write-only, sealed at rest.

A token is sealed by the vault's ``Keyring`` exactly as a credential's secret is (envelope encryption, the
resource id as associated data of both layers), so a sealed token copied onto another resource's row does not
open. ``VaultStore.rotate_key`` re-wraps these rows with the credentials' (``corral.vault.rotation``).

Invariants:

* A token is never in a session's doc, an API response, an event or a log line: it enters through ``put`` (or the
  ``store`` flow, inside the transaction that adds its resource) and leaves only through ``get``, opened in memory.
* ``get`` answers only for the workspace and session the token was stored for (anything else: None).
* Deleting a resource or its session deletes its token (``drop`` or the ``remove`` flow in the same transaction).
"""

from __future__ import annotations

from corral.db import Database, Flow, Row, exec_, one
from corral.ids import now, rfc3339
from corral.vault.crypto import Keyring, Sealed

TABLE = "session_resource_tokens"


def seal(keyring: Keyring, resource_id: str, token: str) -> Sealed:
    return keyring.seal(resource_id, token.encode())


def store(workspace_id: str, session_id: str, resource_id: str, sealed: Sealed, stamp: str) -> Flow[None]:
    """Insert or replace the sealed token of ``resource_id``."""
    yield exec_(
        "INSERT INTO session_resource_tokens"
        " (resource_id, session_id, workspace_id, key_id, wrapped_key, ciphertext, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (resource_id) DO UPDATE SET session_id = $2,"
        " workspace_id = $3, key_id = $4, wrapped_key = $5, ciphertext = $6, updated_at = $7",
        resource_id,
        session_id,
        workspace_id,
        sealed.key_id,
        sealed.wrapped_key,
        sealed.ciphertext,
        stamp,
    )
    return None


def remove(session_id: str, resource_id: str | None = None) -> Flow[None]:
    """Delete the token of ``resource_id`` of ``session_id`` (None: every token of the session)."""
    if resource_id is None:
        yield exec_("DELETE FROM session_resource_tokens WHERE session_id = $1", session_id)
    else:
        yield exec_(
            "DELETE FROM session_resource_tokens WHERE session_id = $1 AND resource_id = $2", session_id, resource_id
        )
    return None


def _select(workspace_id: str, session_id: str, resource_id: str) -> Flow[Sealed | None]:
    row: Row | None = yield one(
        "SELECT key_id, wrapped_key, ciphertext FROM session_resource_tokens"
        " WHERE resource_id = $1 AND session_id = $2 AND workspace_id = $3",
        resource_id,
        session_id,
        workspace_id,
    )
    return None if row is None else Sealed(str(row["key_id"]), str(row["wrapped_key"]), str(row["ciphertext"]))


class ResourceTokens:
    """``VaultStore.resource_tokens``: the sealed tokens of session resources."""

    def __init__(self, db: Database, keyring: Keyring) -> None:
        self.db = db
        self.keyring = keyring

    async def put(self, workspace_id: str, session_id: str, resource_id: str, token: str) -> None:
        sealed = seal(self.keyring, resource_id, token)
        await self.db.write(store, workspace_id, session_id, resource_id, sealed, rfc3339(now()))

    async def get(self, workspace_id: str, session_id: str, resource_id: str) -> str | None:
        """The token in clear (None when the resource has none); ``VaultKeyError`` if it does not open."""
        sealed = await self.db.read(_select, workspace_id, session_id, resource_id)
        return None if sealed is None else self.keyring.open(resource_id, sealed).decode()

    async def drop(self, session_id: str, resource_id: str | None = None) -> None:
        await self.db.write(remove, session_id, resource_id)
