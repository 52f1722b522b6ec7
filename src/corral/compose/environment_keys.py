"""``corral environments keys …``: an operator's environment keys, straight on the database (as ``corral keys``).

Invariant: a key is made only for an existing, unarchived ``self_hosted`` environment, in that environment's own
workspace; the key itself is returned once, and only its hash is stored (``corral.work.keys``).
"""

from __future__ import annotations

from corral.compose.bootstrap import existing_sqlite, open_db
from corral.config import Settings
from corral.ids import now, rfc3339
from corral.work import EnvironmentKey, keys


async def create(settings: Settings, environment_id: str, name: str) -> EnvironmentKey:
    existing_sqlite(settings)
    db = open_db(settings)
    await db.open()
    try:
        workspace_id = await db.read(keys.self_hosted_workspace, environment_id)
        return await db.write(keys.create, workspace_id, environment_id, name, keys.new_key(), rfc3339(now()))
    finally:
        await db.close()


async def listed(settings: Settings, environment_id: str) -> list[EnvironmentKey]:
    existing_sqlite(settings)
    db = open_db(settings)
    await db.open()
    try:
        workspace_id = await db.read(keys.self_hosted_workspace, environment_id)
        return await db.read(keys.listed, workspace_id, environment_id)
    finally:
        await db.close()


async def revoke(settings: Settings, environment_id: str, key_id: str) -> EnvironmentKey:
    existing_sqlite(settings)
    db = open_db(settings)
    await db.open()
    try:
        workspace_id = await db.read(keys.self_hosted_workspace, environment_id)
        return await db.write(keys.revoke, workspace_id, environment_id, key_id, rfc3339(now()))
    finally:
        await db.close()
