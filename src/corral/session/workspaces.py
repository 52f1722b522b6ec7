"""Where each session's latest workspace snapshot is: one row per session in ``workspace_snapshots``.

``WorkspaceRecords`` is what ``corral.sandbox.workspaces.WorkspaceRecords`` asks for (the composition root hands it
to the sandbox provider). Invariants:

* ``record(session_id, ref, base)`` replaces the session's snapshot only if it is still ``base`` (None: there is
  none yet), in one statement: a host whose copy of the workspace is stale (the session moved on elsewhere) never
  overwrites a newer snapshot.
* A row exists only for a session that does (a snapshot saved as its session is deleted records nothing); it
  goes with its session (``corral.session._sessions.delete``); ``refs`` names every manifest a row holds,
  for the blob collector.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from corral.db import Database, Flow, Row, all_rows, exec_, one
from corral.ids import now, rfc3339


def _latest(session_id: str) -> Flow[str | None]:
    row: Row | None = yield one("SELECT manifest_ref FROM workspace_snapshots WHERE session_id = $1", session_id)
    return None if row is None else str(row[0])


def _record(session_id: str, ref: str, base: str | None, stamp: str) -> Flow[bool]:
    if base is None:
        changed: int = yield exec_(
            "INSERT INTO workspace_snapshots (session_id, manifest_ref, taken_at)"
            " SELECT id, $2, $3 FROM sessions WHERE id = $1 ON CONFLICT (session_id) DO NOTHING",
            session_id,
            ref,
            stamp,
        )
    else:
        changed = yield exec_(
            "UPDATE workspace_snapshots SET manifest_ref = $2, taken_at = $4"
            " WHERE session_id = $1 AND manifest_ref = $3",
            session_id,
            ref,
            base,
            stamp,
        )
    return changed == 1


def _page(after: str, limit: int) -> Flow[list[tuple[str, str]]]:
    rows: list[Row] = yield all_rows(
        "SELECT session_id, manifest_ref FROM workspace_snapshots WHERE session_id > $1 ORDER BY session_id LIMIT $2",
        after,
        limit,
    )
    return [(str(row[0]), str(row[1])) for row in rows]


def forget(session_id: str) -> Flow[None]:
    yield exec_("DELETE FROM workspace_snapshots WHERE session_id = $1", session_id)


class WorkspaceRecords:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def latest(self, session_id: str) -> str | None:
        return await self.db.read(_latest, session_id)

    async def record(self, session_id: str, ref: str, base: str | None) -> bool:
        """Make ``ref`` the session's snapshot if ``base`` still is; whether it did."""
        return await self.db.write(_record, session_id, ref, base, rfc3339(now()))

    async def refs(self, *, batch: int = 500) -> AsyncIterator[str]:
        """Every manifest a row names (read in batches of ``batch``)."""
        after = ""
        while rows := await self.db.read(_page, after, batch):
            for _, ref in rows:
                yield ref
            after = rows[-1][0]
