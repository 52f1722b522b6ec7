"""Shared fixtures. Tests use real components only: real SQLite files, a real PostgreSQL server (started by
script/test, URL in CORRAL_TEST_POSTGRES_URL), real processes over loopback HTTP."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from corral.db import Database
from corral.db.engines import open_database
from corral.db.postgres import driver

ENGINES = ["sqlite", "postgres"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_ambient_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to loopback only; an ambient proxy setting must never route them elsewhere."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def postgres_admin_url() -> str:
    url = os.environ.get("CORRAL_TEST_POSTGRES_URL")
    if not url:
        raise RuntimeError("CORRAL_TEST_POSTGRES_URL is not set: run the tests through script/test")
    return url


async def fresh_postgres_url() -> str:
    """Create an empty database on the test server and return its URL."""
    admin = postgres_admin_url()
    name = "t_" + secrets.token_hex(6)
    conn = await driver.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin.rsplit("/", 1)[0] + "/" + name


async def database_url(engine: str, tmp_path: Path) -> str:
    if engine == "sqlite":
        return f"sqlite:///{tmp_path / 'corral.db'}"
    return await fresh_postgres_url()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


@pytest.fixture
async def db_url(engine: str, tmp_path: Path) -> str:
    return await database_url(engine, tmp_path)


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = open_database(db_url)
    await db.open()
    try:
        yield db
    finally:
        await db.close()
