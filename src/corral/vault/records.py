"""Vault rows as immutable records, and their wire form (``BetaManagedAgentsVault``, ``BetaManagedAgentsCredential``).

Invariant: ``wire()`` renders only the public ``doc``; a record's sealed secret (``CredentialRecord.sealed``) is
never part of it and its ``repr`` shows no ciphertext.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from corral._types import JSONObject
from corral.vault.crypto import Sealed

VAULT_COLUMNS = "id, workspace_id, doc, created_at, archived_at"
CREDENTIAL_COLUMNS = (
    "id, vault_id, workspace_id, kind, match_key, doc, key_id, wrapped_key, ciphertext, created_at, archived_at"
)


@dataclass(frozen=True)
class VaultRecord:
    id: str
    workspace_id: str
    doc: JSONObject
    created_at: str
    archived_at: str | None

    @classmethod
    def from_row(cls, row: Any) -> VaultRecord:
        return cls(row["id"], row["workspace_id"], json.loads(row["doc"]), row["created_at"], row["archived_at"])

    def wire(self) -> JSONObject:
        return {
            "type": "vault",
            "id": self.id,
            "display_name": self.doc["display_name"],
            "metadata": self.doc.get("metadata") or {},
            "created_at": self.created_at,
            "updated_at": self.doc["updated_at"],
            "archived_at": self.archived_at,
        }


@dataclass(frozen=True)
class CredentialRecord:
    id: str
    vault_id: str
    workspace_id: str
    kind: str
    doc: JSONObject
    created_at: str
    archived_at: str | None
    sealed: Sealed | None = field(default=None, repr=False)

    @classmethod
    def from_row(cls, row: Any) -> CredentialRecord:
        sealed = None
        if row["ciphertext"] is not None:
            sealed = Sealed(row["key_id"], row["wrapped_key"], row["ciphertext"])
        return cls(
            id=row["id"],
            vault_id=row["vault_id"],
            workspace_id=row["workspace_id"],
            kind=row["kind"],
            doc=json.loads(row["doc"]),
            created_at=row["created_at"],
            archived_at=row["archived_at"],
            sealed=sealed,
        )

    @property
    def auth(self) -> JSONObject:
        return self.doc["auth"]

    def wire(self) -> JSONObject:
        return {
            "type": "vault_credential",
            "id": self.id,
            "vault_id": self.vault_id,
            "display_name": self.doc.get("display_name"),
            "auth": self.auth,
            "metadata": self.doc.get("metadata") or {},
            "created_at": self.created_at,
            "updated_at": self.doc["updated_at"],
            "archived_at": self.archived_at,
        }
