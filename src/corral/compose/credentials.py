"""Wiring the vault to the egress: a session's ``environment_variable`` credentials, for the proxy to inject.

``session_secrets(sessions, vaults)`` is the ``SecretSource`` the egress client asks when it opens a channel for a
session: the session's ``vault_ids`` are read from its own record and only vaults of **its** workspace are opened
(``Access.credentials_for`` takes the workspace id), so one session can never draw on another workspace's
credentials. The harness is not involved: only the egress (corral's side, then the proxy over its control
channel) ever holds the secrets.
"""

from __future__ import annotations

from corral._types import json_list
from corral.egress.credentials import SecretSource, SessionSecret
from corral.errors import NotFound
from corral.session import SessionStore
from corral.vault import EnvironmentCredential, VaultStore


def session_secrets(sessions: SessionStore, vaults: VaultStore) -> SecretSource:
    async def secrets(session_id: str) -> list[SessionSecret]:
        try:
            record = await sessions.get_session(session_id)
        except NotFound:
            return []
        vault_ids = [str(v) for v in json_list(record.doc.get("vault_ids")) or []]
        if not vault_ids:
            return []
        live = await vaults.access.credentials_for(record.workspace_id, vault_ids)
        return [
            SessionSecret(c.vault_id, c.id, c.secret_name, c.value, c.allowed_hosts, c.header, c.body)
            for c in live
            if isinstance(c, EnvironmentCredential)
        ]

    return secrets
