"""``VaultStore``: vaults and their credentials on any ``Database`` engine, secrets sealed by a ``Keyring``.

Every API verb takes the caller's ``workspace_id`` and sees only that workspace's vaults (another workspace's
vault is a 404). Inputs are the typed request models of ``corral.vault.params``; the rules a schema cannot say
are checked inside the write transaction, so a refused request writes nothing. ``access`` is the read side for
the processes that use credentials (``Access.credentials_for``).

Invariants: no value this class returns to the API holds a secret (records render their public ``doc`` only);
secrets reach the database only sealed (``corral.vault.crypto``) and leave it only through ``access``,
``mcp_oauth_validate`` and ``resource_tokens.get`` (session resources' tokens), opened in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx

from corral._types import JSONObject
from corral.db import Database
from corral.db.pages import cursor_from
from corral.errors import ErrorCode, InvalidRequest, NotFound
from corral.ids import is_id, new_id, now, rfc3339
from corral.paging import Page
from corral.vault import _credentials, _live, _vaults
from corral.vault.access import REFRESH_MARGIN_SECONDS, Access
from corral.vault.credentials import resolve_create
from corral.vault.crypto import Keyring
from corral.vault.params import CredentialCreate, CredentialUpdate, VaultCreate, VaultUpdate
from corral.vault.records import CredentialRecord, VaultRecord
from corral.vault.resource_tokens import ResourceTokens
from corral.vault.rotation import Rotation, rotate
from corral.vault.validation import validate

HTTP_TIMEOUT_SECONDS = 10.0
log = logging.getLogger("corral.vault")


def _stamp() -> str:
    return rfc3339(now())


def _vault_id(vault_id: str) -> str:
    if not is_id("vault", vault_id):
        raise _vaults.missing(vault_id)
    return vault_id


def _credential_id(credential_id: str) -> str:
    if not is_id("credential", credential_id):
        raise NotFound(f"credential {credential_id} not found")
    return credential_id


class VaultStore:
    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        *,
        http: httpx.AsyncClient | None = None,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
    ):
        self.db = db
        self.keyring = keyring
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS, trust_env=False)
        self.access = Access(db, keyring, self.http, margin=refresh_margin)
        self.resource_tokens = ResourceTokens(db, keyring)

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    # ------------------------------------------------------------------ vaults

    async def create_vault(self, workspace_id: str, params: VaultCreate) -> VaultRecord:
        doc: JSONObject = {"display_name": params.display_name, "metadata": dict(params.metadata or {})}
        return await self.db.write(_vaults.insert, new_id("vault"), workspace_id, doc, _stamp())

    async def get_vault(self, workspace_id: str, vault_id: str) -> VaultRecord:
        return await self.db.read(_vaults.get, _vault_id(vault_id), workspace_id)

    async def update_vault(self, workspace_id: str, vault_id: str, params: VaultUpdate) -> VaultRecord:
        return await self.db.write(_vaults.update, _vault_id(vault_id), workspace_id, params, _stamp())

    async def archive_vault(self, workspace_id: str, vault_id: str) -> VaultRecord:
        return await self.db.write(_vaults.archive, _vault_id(vault_id), workspace_id, _stamp())

    async def delete_vault(self, workspace_id: str, vault_id: str) -> None:
        await self.db.write(_vaults.delete, _vault_id(vault_id), workspace_id, _stamp())

    async def list_vaults(self, workspace_id: str, *, include_archived: bool, limit: int, page: str | None) -> Page:
        cursor = cursor_from(page, _vaults.SCOPE)
        return await self.db.read(_vaults.page, workspace_id, include_archived, limit, cursor)

    async def check_attachable(self, workspace_id: str, vault_ids: Sequence[str]) -> list[str]:
        """``vault_ids`` for a new session: each must name a vault of the workspace (404) that is not archived
        (400 ``vault_archived``)."""
        for vault_id in vault_ids:
            if not is_id("vault", vault_id):
                raise InvalidRequest(f"vault_ids: {vault_id!r} is not a vault id (vlt_…)", code=ErrorCode.INVALID_ID)
        await self.db.read(_vaults.attachable, workspace_id, list(vault_ids))
        return list(vault_ids)

    # ------------------------------------------------------------------ credentials

    async def create_credential(self, workspace_id: str, vault_id: str, params: CredentialCreate) -> CredentialRecord:
        resolved = resolve_create(params.auth)
        stamp = _stamp()
        public: JSONObject = {
            "display_name": params.display_name or None,
            "metadata": dict(params.metadata or {}),
            "updated_at": stamp,
        }
        credential_id = new_id("credential")
        flow = _credentials.insert
        return await self.db.write(
            flow, credential_id, _vault_id(vault_id), workspace_id, resolved, public, self.keyring
        )

    async def get_credential(self, workspace_id: str, vault_id: str, credential_id: str) -> CredentialRecord:
        ids = _credential_id(credential_id), _vault_id(vault_id)
        return await self.db.read(_credentials.get, *ids, workspace_id)

    async def update_credential(
        self, workspace_id: str, vault_id: str, credential_id: str, params: CredentialUpdate
    ) -> CredentialRecord:
        ids = _credential_id(credential_id), _vault_id(vault_id)
        return await self.db.write(_credentials.update, *ids, workspace_id, params, self.keyring, _stamp())

    async def archive_credential(self, workspace_id: str, vault_id: str, credential_id: str) -> CredentialRecord:
        ids = _credential_id(credential_id), _vault_id(vault_id)
        return await self.db.write(_credentials.archive, *ids, workspace_id, _stamp())

    async def delete_credential(self, workspace_id: str, vault_id: str, credential_id: str) -> None:
        ids = _credential_id(credential_id), _vault_id(vault_id)
        await self.db.write(_credentials.delete, *ids, workspace_id, _stamp())

    async def list_credentials(
        self, workspace_id: str, vault_id: str, *, include_archived: bool, limit: int, page: str | None
    ) -> Page:
        vault_id = _vault_id(vault_id)
        cursor = cursor_from(page, f"{_credentials.SCOPE}:{vault_id}")
        return await self.db.read(_credentials.page, vault_id, workspace_id, include_archived, limit, cursor)

    async def validate_credential(self, workspace_id: str, vault_id: str, credential_id: str) -> JSONObject:
        """``mcp_oauth_validate``: a live probe of an active ``mcp_oauth`` credential (``corral.vault.validation``)."""
        record = await self.get_credential(workspace_id, vault_id, credential_id)
        if record.archived_at is not None:
            raise InvalidRequest(f"credential {credential_id} is archived; it holds no token to validate")
        if record.kind != "mcp_oauth":
            raise InvalidRequest(f"credential {credential_id} is {record.kind}; only mcp_oauth credentials validate")
        return await validate(self.access, record, _credentials.unseal(self.keyring, record))

    # ------------------------------------------------------------------ operations

    async def missing_keys(self) -> list[str]:
        """Ids of master keys that wrap stored secrets but are not in this process's keyring (logged as an error:
        such secrets cannot be used here, typically a process that generated a key of its own)."""
        missing = [key_id for key_id in await self.db.read(_live.key_ids) if key_id not in self.keyring.keys]
        if missing:
            log.error(
                "vault: stored secrets are wrapped by master keys %s, which this process lacks: every process"
                " sharing the database must use the same CORRAL_VAULT_KEY",
                ", ".join(missing),
            )
        return missing

    async def rotate_key(self) -> Rotation:
        """Re-wrap every data key under the active master key (``corral vault rotate-key``)."""
        return await rotate(self.db, self.keyring)
