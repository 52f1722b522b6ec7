"""``Catalog``: workspaces, API keys, agents and environments on any ``Database`` engine.

Every method takes the caller's ``workspace_id`` and sees only that workspace's objects. Inputs are typed request
models (``corral.catalog.params``, validated where they were parsed); the rules a schema cannot express are
checked here, before or inside the write transaction, so a refused request writes nothing.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Mapping
from typing import Any

from corral._types import JSONObject
from corral.catalog import agents, environments, keys, multiagent
from corral.catalog.agent_config import apply_overrides, replace_tooling, resolve_create
from corral.catalog.limits import CatalogLimits
from corral.catalog.params import (
    AgentCreate,
    AgentUpdate,
    AgentWithOverrides,
    EnvironmentCreate,
    EnvironmentUpdate,
    SessionAgent,
    SessionAgentUpdate,
)
from corral.catalog.records import AgentRecord, EnvironmentRecord, Principal
from corral.db import Database
from corral.db.pages import cursor_from
from corral.errors import ErrorCode, InvalidRequest, NotFound, StorageError
from corral.ids import is_id, new_id, now, rfc3339
from corral.paging import Page

log = logging.getLogger("corral.catalog")

_TOUCH_SECONDS = 60.0  # how stale a key's last_used_at may be
_TOUCHED_SIZE = 10_000


def _stamp() -> str:
    return rfc3339(now())


def _agent_id(agent_id: str) -> str:
    if not is_id("agent", agent_id):
        raise NotFound(f"agent {agent_id} not found")
    return agent_id


def _environment_id(environment_id: str) -> str:
    if not is_id("environment", environment_id):
        raise NotFound(f"environment {environment_id} not found", code=ErrorCode.ENVIRONMENT_NOT_FOUND)
    return environment_id


class Catalog:
    def __init__(self, db: Database, *, limits: CatalogLimits | None = None, admin_key: str | None = None):
        self.db = db
        self.limits = limits or CatalogLimits()
        self._admin_key = admin_key
        self._touched: dict[str, float] = {}  # key id → when its last_used_at is next stamped (monotonic)

    # ------------------------------------------------------------------ workspaces and keys

    async def ensure_default_workspace(self) -> str:
        return await self.db.write(
            keys.ensure_workspace, keys.DEFAULT_WORKSPACE_ID, keys.DEFAULT_WORKSPACE_NAME, _stamp()
        )

    async def create_key(self, workspace_name: str = keys.DEFAULT_WORKSPACE_NAME, name: str = "") -> tuple[str, str]:
        """Make a key of the workspace called ``workspace_name`` (created if needed): ``(secret, workspace_id)``."""
        secret, record = await self.issue_key(workspace_name, name)
        return secret, record.workspace_id

    async def issue_key(
        self, workspace_name: str = keys.DEFAULT_WORKSPACE_NAME, name: str = "", *, admin: bool = False
    ) -> tuple[str, keys.KeyRecord]:
        """``create_key`` with the whole record, and optionally an admin key: ``(secret, record)``."""
        secret = keys.new_secret()
        record = await self.db.write(keys.insert_key, workspace_name, secret, name, _stamp(), admin=admin)
        return secret, record

    async def has_keys(self) -> bool:
        return await self.db.read(keys.any_key)

    async def list_keys(self) -> list[keys.KeyRecord]:
        return await self.db.read(keys.list_keys)

    async def revoke_key(self, key_id: str) -> keys.KeyRecord:
        if not is_id("api_key", key_id):
            raise NotFound(f"API key {key_id} not found")
        return await self.db.write(keys.revoke, key_id, _stamp())

    async def key_is_live(self, key_id: str) -> bool:
        return await self.db.read(keys.is_live, key_id)

    async def authenticate(self, secret: str) -> Principal | None:
        """The principal a presented key stands for, or None.

        Every call reads the key's row (an indexed lookup), so a key revoked by any process — another API
        process, ``corral keys revoke`` — is refused from its next request on. ``last_used_at`` is stamped at most
        once a minute per key and process: a listing's last use is accurate to a minute.
        """
        if self._admin_key and hmac.compare_digest(secret.encode(), self._admin_key.encode()):
            return Principal(keys.DEFAULT_WORKSPACE_ID, None, admin=True)
        found = await self.db.read(keys.lookup, keys.hash_secret(secret))
        if found is None:
            return None
        due = self._touched.get(found.id, 0.0)
        if due <= time.monotonic():
            if len(self._touched) >= _TOUCHED_SIZE:
                self._touched.clear()
            self._touched[found.id] = time.monotonic() + _TOUCH_SECONDS
            try:
                await self.db.write(keys.touch, found.id, _stamp())
            except StorageError as error:  # a stale "last used" must not refuse a request the key may make
                log.warning("could not stamp the last use of API key %s: %s", found.id, error.message)
        return Principal(found.workspace_id, found.id, admin=found.admin)

    # ------------------------------------------------------------------ agents

    async def create_agent(self, workspace_id: str, params: AgentCreate) -> AgentRecord:
        config = resolve_create(params, self.limits)
        team = None if params.multiagent is None else (params.multiagent, self.limits)
        return await self.db.write(agents.insert, new_id("agent"), workspace_id, config, _stamp(), team)

    async def get_agent(self, workspace_id: str, agent_id: str, version: int | None = None) -> AgentRecord:
        return await self.db.read(agents.get, _agent_id(agent_id), workspace_id, version)

    async def update_agent(self, workspace_id: str, agent_id: str, params: AgentUpdate) -> AgentRecord:
        return await self.db.write(agents.update, _agent_id(agent_id), workspace_id, params, self.limits, _stamp())

    async def archive_agent(self, workspace_id: str, agent_id: str) -> AgentRecord:
        return await self.db.write(agents.archive, _agent_id(agent_id), workspace_id, _stamp())

    async def list_agents(self, flt: agents.AgentFilter, *, limit: int, page: str | None) -> Page:
        return await self.db.read(agents.page, flt, limit, cursor_from(page, "agents", 2))

    async def list_agent_versions(self, workspace_id: str, agent_id: str, *, limit: int, page: str | None) -> Page:
        below: int | None = None
        if (cursor := cursor_from(page, "agent_versions", 1)) is not None:
            if not isinstance(cursor.key[0], int) or isinstance(cursor.key[0], bool):
                raise InvalidRequest("invalid or expired page cursor", code=ErrorCode.INVALID_CURSOR)
            below = cursor.key[0]
        return await self.db.read(agents.versions, _agent_id(agent_id), workspace_id, limit, below)

    async def session_agent(self, workspace_id: str, ref: SessionAgent) -> JSONObject:
        """Resolve a session's ``agent`` (id, ``{type: agent}`` or ``{type: agent_with_overrides}``) to a snapshot."""
        agent_id, version = (ref, None) if isinstance(ref, str) else (ref.id, ref.version)
        if not is_id("agent", agent_id):
            raise InvalidRequest(f"agent must be an agent id (agent_…), got {agent_id!r}", code=ErrorCode.INVALID_ID)
        record = await self.get_agent(workspace_id, agent_id, version)
        if record.archived_at is not None:
            raise InvalidRequest(f"agent {agent_id} is archived", code=ErrorCode.AGENT_ARCHIVED)
        snapshot = record.snapshot()
        if isinstance(ref, AgentWithOverrides):
            snapshot = apply_overrides(snapshot, ref, self.limits)
        if snapshot.get("multiagent"):
            snapshot["multiagent"] = await self._expand_team(workspace_id, snapshot)
        return snapshot

    async def _expand_team(self, workspace_id: str, snapshot: JSONObject) -> JSONObject:
        """The session's roster: full definitions; ``self`` is the (overridden) snapshot itself (api.md §17)."""
        definitions: dict[tuple[str, int], JSONObject] = {}
        for ref in multiagent.referenced(snapshot["multiagent"]):
            key = (str(ref["id"]), int(ref["version"]))
            if key[0] == snapshot["id"]:
                definitions[key] = multiagent.thread_agent(snapshot)
            elif key not in definitions:
                record = await self.get_agent(workspace_id, key[0], key[1])
                definitions[key] = multiagent.thread_agent(record.snapshot())
        return multiagent.expand(snapshot["multiagent"], definitions)

    def replace_session_tools(self, snapshot: Mapping[str, Any], changes: SessionAgentUpdate) -> JSONObject:
        """A session's agent snapshot with ``tools``/``mcp_servers`` replaced (``POST /v1/sessions/{id}``)."""
        return replace_tooling(snapshot, changes, self.limits)

    # ------------------------------------------------------------------ environments

    async def create_environment(self, workspace_id: str, params: EnvironmentCreate) -> EnvironmentRecord:
        doc = environments.resolve_new(params)
        return await self.db.write(environments.insert, new_id("environment"), workspace_id, doc, _stamp())

    async def get_environment(self, workspace_id: str, environment_id: str) -> EnvironmentRecord:
        return await self.db.read(environments.get, _environment_id(environment_id), workspace_id)

    async def update_environment(
        self, workspace_id: str, environment_id: str, params: EnvironmentUpdate
    ) -> EnvironmentRecord:
        return await self.db.write(environments.update, _environment_id(environment_id), workspace_id, params, _stamp())

    async def archive_environment(self, workspace_id: str, environment_id: str) -> EnvironmentRecord:
        return await self.db.write(environments.archive, _environment_id(environment_id), workspace_id, _stamp())

    async def delete_environment(self, workspace_id: str, environment_id: str) -> None:
        await self.db.write(environments.delete, _environment_id(environment_id), workspace_id, _stamp())

    async def live_environments(self) -> list[EnvironmentRecord]:
        """Every environment not archived, across workspaces (for the process's own background work)."""
        return await self.db.read(environments.live)

    async def list_environments(
        self, workspace_id: str, *, include_archived: bool, limit: int, page: str | None
    ) -> Page:
        cursor = cursor_from(page, "environments", 2)
        return await self.db.read(environments.page, workspace_id, include_archived, limit, cursor)
