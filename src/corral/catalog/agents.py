"""Agents: versioned configurations, as flows that run on either engine (see ``corral.db.query``).

Invariants:

* Every version ever created is in ``agent_versions`` and never changes; ``agents`` holds the latest version
  and its number. Versions are dense: 1, 2, 3 …
* An update that changes nothing does not create a version; an update carrying ``version`` succeeds only if
  it is the current one (optimistic concurrency, 409 otherwise); an archived agent accepts no update.
* Archive is one-way; archiving an archived agent returns it unchanged.
* An agent of another workspace is indistinguishable from one that does not exist (404).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from corral.catalog import multiagent
from corral.catalog.agent_config import resolve_update
from corral.catalog.limits import CatalogLimits
from corral.catalog.params.agents import AgentUpdate
from corral.catalog.params.multiagent import Multiagent
from corral.catalog.records import AgentRecord
from corral.db import Flow, Row, Where, all_rows, exec_, one
from corral.db.pages import newest_first
from corral.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from corral.outbox import record as webhook
from corral.paging import Cursor, Page

COLUMNS = "id, workspace_id, version, doc, created_at, archived_at"
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(frozen=True)
class AgentFilter:
    workspace_id: str
    include_archived: bool = False
    created_gte: str | None = None
    created_lte: str | None = None


def _missing(agent_id: str) -> NotFound:
    return NotFound(f"agent {agent_id} not found")


def _select(agent_id: str, workspace_id: str, *, lock: bool = False) -> Flow[Row]:
    suffix = "{for_update}" if lock else ""
    row = yield one(f"SELECT {COLUMNS} FROM agents WHERE id = $1{suffix}", agent_id)
    if row is None or row["workspace_id"] != workspace_id:
        raise _missing(agent_id)
    return row


def insert(
    agent_id: str,
    workspace_id: str,
    config: dict[str, Any],
    stamp: str,
    team: tuple[Multiagent, CatalogLimits] | None = None,
) -> Flow[AgentRecord]:
    """A new agent at version 1; ``team`` is its ``multiagent`` as sent, resolved here against storage."""
    if team is not None:
        owner = multiagent.Owner(workspace_id, agent_id, 1, team[1])
        config = {**config, "multiagent": (yield from multiagent.resolve(owner, team[0], None))}
    doc = _dumps({**config, "updated_at": stamp})
    yield exec_(f"INSERT INTO agents ({COLUMNS}) VALUES ($1, $2, 1, $3, $4, NULL)", agent_id, workspace_id, doc, stamp)
    yield exec_("INSERT INTO agent_versions (agent_id, version, doc) VALUES ($1, 1, $2)", agent_id, doc)
    yield from webhook(workspace_id, "agent.created", agent_id, stamp)
    row = yield from _select(agent_id, workspace_id)
    return AgentRecord.from_row(row)


def get(agent_id: str, workspace_id: str, version: int | None) -> Flow[AgentRecord]:
    row = yield from _select(agent_id, workspace_id)
    if version is None or version == int(row["version"]):
        return AgentRecord.from_row(row)
    old = yield one("SELECT doc FROM agent_versions WHERE agent_id = $1 AND version = $2", agent_id, version)
    if old is None:
        raise NotFound(f"agent {agent_id} has no version {version}")
    return AgentRecord.from_row(row, version=version, doc=old["doc"])


def update(
    agent_id: str, workspace_id: str, params: AgentUpdate, limits: CatalogLimits, stamp: str
) -> Flow[AgentRecord]:
    row = yield from _select(agent_id, workspace_id, lock=True)
    current = AgentRecord.from_row(row)
    if current.archived_at is not None:
        raise InvalidRequest(f"agent {agent_id} is archived and read-only", code=ErrorCode.AGENT_ARCHIVED)
    expected = params.version
    if expected is not None and expected != current.version:
        raise Conflict(
            f"agent {agent_id} is at version {current.version}, not {expected}",
            code=ErrorCode.AGENT_VERSION_CONFLICT,
            details={"current_version": current.version},
        )
    config = resolve_update(current.doc, params, limits)
    if params.multiagent is not None:
        owner = multiagent.Owner(workspace_id, agent_id, current.version, limits)
        config["multiagent"] = yield from multiagent.resolve(owner, params.multiagent, current.doc.get("multiagent"))
    if config == current.config:
        return current
    version = current.version + 1
    config["multiagent"] = multiagent.restamp(config["multiagent"], agent_id, version)
    doc = _dumps({**config, "updated_at": stamp})
    yield exec_("INSERT INTO agent_versions (agent_id, version, doc) VALUES ($1, $2, $3)", agent_id, version, doc)
    yield exec_("UPDATE agents SET version = $2, doc = $3 WHERE id = $1", agent_id, version, doc)
    yield from webhook(workspace_id, "agent.updated", agent_id, stamp)  # a new version only (api.md §18.3)
    row = yield from _select(agent_id, workspace_id)
    return AgentRecord.from_row(row)


def archive(agent_id: str, workspace_id: str, stamp: str) -> Flow[AgentRecord]:
    row = yield from _select(agent_id, workspace_id, lock=True)
    if row["archived_at"] is None:
        yield exec_("UPDATE agents SET archived_at = $2 WHERE id = $1", agent_id, stamp)
        yield from webhook(workspace_id, "agent.archived", agent_id, stamp)
        row = yield from _select(agent_id, workspace_id)
    return AgentRecord.from_row(row)


def page(flt: AgentFilter, limit: int, cursor: Cursor | None) -> Flow[Page]:
    where = Where().equals("workspace_id", flt.workspace_id)
    if not flt.include_archived:
        where.term("archived_at IS NULL")
    where.within("created_at", gte=flt.created_gte, lte=flt.created_lte)
    return (yield from newest_first("agents", COLUMNS, where, limit, cursor, "agents", AgentRecord.from_row))


def versions(agent_id: str, workspace_id: str, limit: int, below: int | None) -> Flow[Page]:
    """Versions newest first, those below ``below`` when paging on."""
    row = yield from _select(agent_id, workspace_id)
    top = int(row["version"]) + 1 if below is None else below
    rows = yield all_rows(
        "SELECT version, doc FROM agent_versions WHERE agent_id = $1 AND version < $2 ORDER BY version DESC LIMIT $3",
        agent_id,
        top,
        limit + 1,
    )
    items = [AgentRecord.from_row(row, version=int(v["version"]), doc=v["doc"]) for v in rows[:limit]]
    cursor = None
    if len(rows) > limit:
        cursor = Cursor(key=[items[-1].version], direction="next", order="desc", scope="agent_versions").encode()
    return Page(items, cursor)
