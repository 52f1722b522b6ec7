"""The read side for the processes that use credentials (MCP calls, the egress proxy): live secrets, fresh tokens.

``Access.credentials_for(workspace_id, vault_ids)`` returns the active credentials of those vaults with their
secrets opened, as ``MCPCredential`` (``static_bearer``, ``mcp_oauth``) or ``EnvironmentCredential``; an
``mcp_oauth`` token that expires within ``margin`` seconds is refreshed first. ``Access.refresh(credential)``
is the on-demand refresh a caller asks for after a 401.

Invariants:

* Nothing here raises into callers for a refresh that fails: the failure is recorded on the credential
  (``doc.refresh_failure``: when, which outcome, the HTTP status) and logged with the credential id only;
  the caller gets the token it had. A credential whose secret does not open is left out and logged.
* One refresh per credential at a time in this process (a lock per id); across processes, the
  compare-and-set of ``_live.store_refreshed`` keeps the newest secret.
* The ``repr`` of a live credential never shows its secret.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

import anyio
import httpx

from corral._types import JSONObject
from corral.db import Database
from corral.errors import CorralError
from corral.ids import now, parse_rfc3339, rfc3339
from corral.vault import _live
from corral.vault._credentials import seal, unseal
from corral.vault.crypto import Keyring, VaultKeyError
from corral.vault.oauth import RefreshOutcome, refresh_grant
from corral.vault.records import CredentialRecord

log = logging.getLogger("corral.vault")

REFRESH_MARGIN_SECONDS = 60.0


@dataclass(frozen=True)
class MCPCredential:
    """A bearer token for the MCP server at ``mcp_server_url`` (``static_bearer`` or ``mcp_oauth``)."""

    id: str
    vault_id: str
    kind: Literal["static_bearer", "mcp_oauth"]
    mcp_server_url: str
    token: str = field(repr=False)
    expires_at: str | None = None


@dataclass(frozen=True)
class EnvironmentCredential:
    """A secret for requests from the sandbox: ``value`` replaces the placeholder of ``secret_name`` only towards
    ``allowed_hosts`` (None: any host the environment allows) and only in the enabled locations."""

    id: str
    vault_id: str
    secret_name: str
    value: str = field(repr=False)
    allowed_hosts: tuple[str, ...] | None
    header: bool
    body: bool


LiveCredential = MCPCredential | EnvironmentCredential


def _live_form(record: CredentialRecord, secrets: dict[str, str]) -> LiveCredential:
    auth = record.auth
    if auth["type"] == "environment_variable":
        networking: JSONObject = auth["networking"]
        hosts = tuple(networking["allowed_hosts"]) if networking["type"] == "limited" else None
        location: JSONObject = auth["injection_location"]
        return EnvironmentCredential(
            record.id,
            record.vault_id,
            auth["secret_name"],
            secrets["secret_value"],
            hosts,
            bool(location["header"]),
            bool(location["body"]),
        )
    token = secrets["token"] if auth["type"] == "static_bearer" else secrets["access_token"]
    return MCPCredential(
        record.id, record.vault_id, auth["type"], auth["mcp_server_url"], token, auth.get("expires_at")
    )


def _expiring(record: CredentialRecord, margin: float) -> bool:
    expires_at = record.auth.get("expires_at") if record.kind == "mcp_oauth" else None
    if not expires_at or record.auth.get("refresh") is None:
        return False
    return parse_rfc3339(str(expires_at)) <= now() + timedelta(seconds=margin)


class Access:
    def __init__(
        self, db: Database, keyring: Keyring, http: httpx.AsyncClient, *, margin: float = REFRESH_MARGIN_SECONDS
    ):
        self.db = db
        self.keyring = keyring
        self.http = http
        self.margin = margin
        self._locks: dict[str, anyio.Lock] = {}

    async def credentials_for(self, workspace_id: str, vault_ids: list[str]) -> list[LiveCredential]:
        """The live credentials of ``vault_ids`` (those of the workspace, not archived), secrets opened."""
        records = await self.db.read(_live.live, workspace_id, list(vault_ids))
        found: list[LiveCredential] = []
        for record in records:
            if _expiring(record, self.margin):
                await self._refresh(record.id, None)
                record = await self.db.read(_live.by_id, record.id) or record
            try:
                found.append(_live_form(record, unseal(self.keyring, record)))
            except VaultKeyError as exc:
                log.error("vault credential %s left out: %s", record.id, exc.message)
        return found

    async def refresh(self, credential: MCPCredential) -> MCPCredential:
        """After the MCP server refused ``credential.token``: refresh it now (unless another caller already did)
        and return the credential as stored afterwards. Never raises for a failed refresh."""
        await self._refresh(credential.id, credential.token)
        record = await self.db.read(_live.by_id, credential.id)
        if record is None or record.archived_at is not None:
            return credential
        try:
            fresh = _live_form(record, unseal(self.keyring, record))
        except VaultKeyError:
            return credential
        return fresh if isinstance(fresh, MCPCredential) else credential

    async def refresh_now(self, credential_id: str, stale_token: str | None) -> RefreshOutcome | None:
        """Refresh the credential (see ``_refresh``); the outcome, or None when none was attempted."""
        return await self._refresh(credential_id, stale_token)

    async def _refresh(self, credential_id: str, stale_token: str | None) -> RefreshOutcome | None:
        lock = self._locks.setdefault(credential_id, anyio.Lock())
        try:
            async with lock:
                return await self._refresh_locked(credential_id, stale_token)
        except (CorralError, httpx.HTTPError, OSError) as exc:  # never into callers: logged, like a failed grant
            log.error("vault credential %s: refresh failed: %s", credential_id, type(exc).__name__)
            return None
        finally:
            if not lock.locked() and lock.statistics().tasks_waiting == 0:
                self._locks.pop(credential_id, None)

    async def _refresh_locked(self, credential_id: str, stale_token: str | None) -> RefreshOutcome | None:
        record = await self.db.read(_live.by_id, credential_id)
        if record is None or record.archived_at is not None or record.kind != "mcp_oauth":
            return None
        secrets = unseal(self.keyring, record)
        if stale_token is None and not _expiring(record, self.margin):
            return None  # another task refreshed it while this one waited
        if stale_token is not None and secrets.get("access_token") != stale_token:
            return None  # already replaced since the caller read it
        outcome = await refresh_grant(self.http, record.auth.get("refresh"), secrets)
        if outcome.status == "succeeded" and outcome.access_token is not None:
            await self._store(record, secrets, outcome)
        else:
            await self._fail(record, outcome)
        return outcome

    async def _store(self, record: CredentialRecord, secrets: dict[str, str], outcome: RefreshOutcome) -> None:
        assert outcome.access_token is not None
        secrets = {**secrets, "access_token": outcome.access_token}
        if outcome.refresh_token is not None:
            secrets["refresh_token"] = outcome.refresh_token
        auth = {**record.auth, "expires_at": outcome.expires_at}
        doc = {**record.doc, "auth": auth, "refresh_failure": None, "updated_at": rfc3339(now())}
        if not await self.db.write(_live.store_refreshed, record, doc, seal(self.keyring, record.id, secrets)):
            log.info("vault credential %s changed during its refresh; the newer secret is kept", record.id)

    async def _fail(self, record: CredentialRecord, outcome: RefreshOutcome) -> None:
        status_code = outcome.http_response.status_code if outcome.http_response is not None else None
        stamp = rfc3339(now())
        failure = {"at": stamp, "status": outcome.status, "status_code": status_code}
        await self.db.write(_live.store_failure, record.id, failure, stamp)
        log.warning("vault credential %s: token refresh %s (HTTP %s)", record.id, outcome.status, status_code or "none")
