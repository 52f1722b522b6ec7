from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from corral.db import Database
from corral.session import SessionStore


@pytest.fixture
async def store(database: Database) -> AsyncIterator[SessionStore]:
    sessions = SessionStore(database)
    try:
        yield sessions
    finally:
        await sessions.aclose()
