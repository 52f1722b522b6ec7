"""``corral webhooks …``: webhook endpoints managed from the command line, on the server's database."""

from __future__ import annotations

from collections.abc import Sequence

from corral._types import JSONObject
from corral.catalog import keys
from corral.compose.bootstrap import existing_sqlite, open_db
from corral.config import Settings
from corral.db.pages import cursor_from
from corral.ids import now, rfc3339
from corral.webhooks import admin, endpoints


async def create(settings: Settings, workspace: str, url: str, event_types: Sequence[str] | None) -> JSONObject:
    """The new endpoint's wire form with its secret (shown this once)."""
    existing_sqlite(settings)
    db = open_db(settings)
    await db.open()
    try:
        workspace_id = await db.write(keys.workspace_named, workspace, rfc3339(now()))
        allow_private = settings.webhook_allow_private
        made, secret = await admin.register(db, workspace_id, url, event_types, allow_private=allow_private)
        return {**made.wire(), "secret": secret}
    finally:
        await db.close()


async def listed(settings: Settings, workspace: str) -> list[JSONObject]:
    existing_sqlite(settings)
    db = open_db(settings)
    await db.open()
    try:
        workspace_id = await db.write(keys.workspace_named, workspace, rfc3339(now()))
        found: list[JSONObject] = []
        cursor = None
        while True:
            page = await db.read(endpoints.page, workspace_id, 100, cursor)
            found += [item.wire() for item in page.items]
            if page.next_page is None:
                return found
            cursor = cursor_from(page.next_page, endpoints.SCOPE)
    finally:
        await db.close()


async def delete(settings: Settings, workspace: str, endpoint_id: str) -> None:
    existing_sqlite(settings)
    db = open_db(settings)
    await db.open()
    try:
        workspace_id = await db.write(keys.workspace_named, workspace, rfc3339(now()))
        await db.write(endpoints.delete, workspace_id, endpoint_id)
    finally:
        await db.close()
