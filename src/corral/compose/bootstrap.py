"""The light part of the composition root: opening the database and the catalog, and the first-start key.

Kept apart from ``services`` (which starts the harness and imports model SDKs) so that short commands such as
``corral keys create`` and ``corral migrate`` start fast.
"""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread

from corral.catalog import Catalog, CatalogLimits
from corral.catalog.keys import KeyRecord
from corral.config import Settings
from corral.db import Database
from corral.db.engines import open_database
from corral.errors import ConfigError
from corral.vault import Keyring, Rotation, VaultStore, load_keyring


def open_db(settings: Settings) -> Database:
    return open_database(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)


def make_catalog(db: Database, settings: Settings) -> Catalog:
    limits = CatalogLimits(
        max_tools=settings.max_agent_tools,
        providers=settings.provider_names,
        web_search=bool(settings.web_search_url),
    )
    return Catalog(db, limits=limits, admin_key=settings.api_key)


async def open_keyring(settings: Settings) -> Keyring:
    """The vault's master keys (``CORRAL_VAULT_KEY``, else the data dir's key file, made on first start)."""
    return await anyio.to_thread.run_sync(load_keyring, settings.vault_key, settings.data_dir)


async def rotate_vault_key(settings: Settings) -> Rotation:
    """``corral vault rotate-key``: re-wrap every data key under the active master key, in an existing database."""
    existing_sqlite(settings)
    keyring = await open_keyring(settings)
    db = open_db(settings)
    await db.open()
    try:
        vaults = VaultStore(db, keyring)
        try:
            return await vaults.rotate_key()
        finally:
            await vaults.aclose()
    finally:
        await db.close()


async def first_start_key(settings: Settings) -> str | None:
    """On a first start without ``CORRAL_API_KEY`` and without any key stored, make one and return it.

    The secret is returned once for the operator to copy; only its hash is kept.
    """
    if settings.api_key:
        return None
    db = open_db(settings)
    await db.open()
    try:
        catalog = make_catalog(db, settings)
        await catalog.ensure_default_workspace()
        if await catalog.has_keys():
            return None
        secret, _ = await catalog.issue_key(name="first start", admin=True)  # the operator's: stats, key routes
        return secret
    finally:
        await db.close()


def existing_sqlite(settings: Settings) -> None:
    """Refuse to act on a SQLite database that does not exist yet: a key made there would belong to a database
    no server uses (``corral keys create`` run outside the server's data directory)."""
    url = settings.resolved_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise ConfigError(
            f"no corral database at {url.removeprefix('sqlite:///')}: run this where the server runs, or set"
            " CORRAL_DATA_DIR (or CORRAL_DATABASE_URL) to the server's"
        )


async def create_key(settings: Settings, workspace: str, name: str, admin: bool = False) -> tuple[str, KeyRecord]:
    """A new key of the workspace called ``workspace``: ``(secret, record)``, in an existing database."""
    existing_sqlite(settings)
    db = open_db(settings)
    await db.open()
    try:
        catalog = make_catalog(db, settings)
        await catalog.ensure_default_workspace()
        return await catalog.issue_key(workspace, name, admin=admin)
    finally:
        await db.close()


async def list_keys(settings: Settings) -> list[KeyRecord]:
    """``corral keys list``: every key of an existing database (prefix and last use, never a secret)."""
    existing_sqlite(settings)
    db = open_db(settings)
    await db.open()
    try:
        return await make_catalog(db, settings).list_keys()
    finally:
        await db.close()


async def revoke_key(settings: Settings, key_id: str) -> KeyRecord:
    """``corral keys revoke``: refused from the next request on, by every API process."""
    existing_sqlite(settings)
    db = open_db(settings)
    await db.open()
    try:
        return await make_catalog(db, settings).revoke_key(key_id)
    finally:
        await db.close()


async def migrate(settings: Settings) -> list[str]:
    """Apply the migrations the database lacks; returns their names (none: it was up to date)."""
    db = open_db(settings)
    await db.open()  # opening applies pending migrations
    await db.close()
    return db.migrated
