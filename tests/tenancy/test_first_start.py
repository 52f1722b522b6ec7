"""The key a first start prints (no ``CORRAL_API_KEY``, no key stored) is an admin key: its operator needs stats
and the key routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.compose.bootstrap import first_start_key, make_catalog, open_db
from corral.config import Settings

pytestmark = pytest.mark.anyio


async def test_the_first_start_key_is_an_admin_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    secret = await first_start_key(settings)
    assert secret is not None and await first_start_key(settings) is None  # made once
    db = open_db(settings)
    await db.open()
    try:
        principal = await make_catalog(db, settings).authenticate(secret)
        assert principal is not None and principal.admin and principal.key_id is not None
    finally:
        await db.close()
