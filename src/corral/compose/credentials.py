"""Wiring the vault to the egress: a session's credentials, for the proxy to inject.

``session_secrets(sessions, vaults)`` is the ``SecretSource`` the egress client asks when it opens a channel for a
session (and when it refreshes one): the session's ``vault_ids`` are read from its own record and only vaults of
**its** workspace are opened (``Access.credentials_for`` takes the workspace id), so one session can never draw
on another workspace's credentials; and each ``github_repository`` resource of the record gives a
``RepositoryToken`` (its URL's host and path, and the token sealed for it, ``tokens``). The harness is not
involved: only the egress (corral's side, then the proxy over its control channel) ever holds the secrets.
"""

from __future__ import annotations

from typing import Protocol

from corral._types import JSONObject, json_list
from corral.egress.credentials import SecretSource, SessionCredential, SessionSecret
from corral.egress.repositories import RepositoryToken
from corral.errors import NotFound
from corral.resources.github import github_resources
from corral.session import SessionStore
from corral.vault import EnvironmentCredential, VaultStore


class ResourceTokens(Protocol):
    """Where the token of a session's repository resource is kept (sealed in the vault)."""

    async def get(self, workspace_id: str, session_id: str, resource_id: str) -> str | None: ...


async def _repositories(
    tokens: ResourceTokens, workspace_id: str, session_id: str, doc: JSONObject
) -> list[RepositoryToken]:
    found: list[RepositoryToken] = []
    for resource in github_resources(doc):
        resource_id, url = str(resource.get("id")), str(resource.get("url"))
        token = await tokens.get(workspace_id, session_id, resource_id)
        made = RepositoryToken.for_url(resource_id, url, token) if token else None
        if made is not None:
            found.append(made)
    return found


def session_secrets(sessions: SessionStore, vaults: VaultStore, tokens: ResourceTokens | None = None) -> SecretSource:
    async def secrets(session_id: str) -> list[SessionCredential]:
        try:
            record = await sessions.get_session(session_id)
        except NotFound:
            return []
        found: list[SessionCredential] = []
        if tokens is not None:
            found += await _repositories(tokens, record.workspace_id, session_id, record.doc)
        vault_ids = [str(v) for v in json_list(record.doc.get("vault_ids")) or []]
        if not vault_ids:
            return found
        live = await vaults.access.credentials_for(record.workspace_id, vault_ids)
        return found + [
            SessionSecret(c.vault_id, c.id, c.secret_name, c.value, c.allowed_hosts, c.header, c.body)
            for c in live
            if isinstance(c, EnvironmentCredential)
        ]

    return secrets
