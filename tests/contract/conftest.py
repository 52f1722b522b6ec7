"""Fixtures of the storage contract suite: every test here runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from corral.db import Database
from corral.session import SessionStore


@pytest.fixture
async def store(database: Database) -> AsyncIterator[SessionStore]:
    store = SessionStore(database)
    try:
        yield store
    finally:
        await store.aclose()
