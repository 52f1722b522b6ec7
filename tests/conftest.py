"""Shared fixtures. Tests use real components only: real SQLite files, a real PostgreSQL server (started by
script/test, URL in CORRAL_TEST_POSTGRES_URL), real processes over loopback HTTP.

How ``script/test`` spreads the suite over its workers (``--dist loadgroup``: ``pytest_xdist_make_scheduler``
below): a package whose conftest holds package-scoped fixtures (its live servers) runs whole on one worker, so
they start once; any other module runs whole on one worker (its module-scoped servers start once). The groups
are handed out costliest first, so the last ones left are cheap and the workers finish together. A group's cost
is an estimate in ordinary tests: one a test, ``SLOW_COST`` a test marked ``slow`` or with a ``timeout`` of its
own (those drive whole process stacks), ``START_COST`` more for each module whose source starts processes.

``database_url`` gives a database already migrated to the latest version, copied from a template this process
migrated once (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL): the same schema and rows a
fresh database has after its first open, without paying every migration per test. ``fresh_postgres_url`` is an
empty database, for the tests of migrations themselves.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

# pytest-xdist ships no type information (no py.typed, no stubs); pyright reads its source for the two names used
from xdist.remote import Producer  # pyright: ignore[reportMissingTypeStubs]
from xdist.scheduler import LoadScopeScheduling  # pyright: ignore[reportMissingTypeStubs]

from corral.db import Database
from corral.db.engines import open_database
from corral.db.postgres import driver

ENGINES = ["sqlite", "postgres"]
#: what a test that drives whole process stacks costs, and a module that starts processes, in ordinary tests
SLOW_COST = 25
START_COST = 40
_STARTS_PROCESSES = re.compile(r"live_server|agent_server|LiveServer|CorralProcess|Cluster\(|subprocess|playwright")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> LoadScopeScheduling | None:
    """``--dist loadgroup`` hands out this file's groups (``group``), not ``xdist_group`` marks (xdist marks a
    test's group in its node id, which pytest 9 no longer lets a plugin rewrite)."""
    if config.option.dist != "loadgroup":
        return None
    return _Groups(config, log)


class _Groups(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        return group(self.config.rootpath / nodeid.split("::", 1)[0], self.config.rootpath)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Order the groups costliest first, each group's tests in the order they had (after pytest grouped them by
    their fixtures' parameters; first: before a worker reports its collection). xdist hands out groups in this
    order (``--no-loadscope-reorder``)."""
    groups: dict[str, list[pytest.Item]] = {}
    for item in session.items:
        groups.setdefault(group(item.path, session.config.rootpath), []).append(item)
    ranked = sorted(groups.values(), key=lambda members: -_group_cost(members))
    session.items[:] = [item for members in ranked for item in members]


def group(module: Path, root: Path) -> str:
    """The group of the tests of ``module``: its package when that package's conftest holds package-scoped
    fixtures, else the module itself (as a path below ``root``)."""
    return str((module.parent if _shares(module.parent) else module).relative_to(root))


@functools.cache
def _shares(folder: Path) -> bool:
    conftest = folder / "conftest.py"
    package = folder != Path(__file__).parent  # this file names the scope, and holds no such fixture
    return package and conftest.is_file() and 'scope="package"' in conftest.read_text()


def _group_cost(members: list[pytest.Item]) -> int:
    modules = {item.path for item in members}
    starting = sum(1 for path in modules if _STARTS_PROCESSES.search(path.read_text()))
    return START_COST * starting + sum(map(_cost, members))


def _cost(item: pytest.Item) -> int:
    slow = item.get_closest_marker("slow") is not None or item.get_closest_marker("timeout") is not None
    return SLOW_COST if slow else 1


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


async def fresh_postgres_url(template: str | None = None) -> str:
    """Create a database on the test server (empty, or a copy of database ``template``) and return its URL."""
    admin = postgres_admin_url()
    name = "t_" + secrets.token_hex(6)
    conn = await driver.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await conn.close()
    return admin.rsplit("/", 1)[0] + "/" + name


class _Templates:
    """This process's migrated template databases, made on first use (one lock: tests of several event loops and
    threads ask for them)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.made: dict[str, str] = {}

    def get(self, engine: str) -> str:
        """The template of ``engine``: a SQLite file's path, or a PostgreSQL database's name."""
        with self.lock:
            if engine not in self.made:
                self.made[engine] = anyio.run(_migrated_sqlite if engine == "sqlite" else _migrated_postgres)
            return self.made[engine]


_templates = _Templates()


async def _migrated_sqlite() -> str:
    folder = tempfile.mkdtemp(prefix="corral-template-")
    atexit.register(shutil.rmtree, folder, True)
    path = Path(folder) / "corral.db"
    await _migrate(f"sqlite:///{path}")
    return str(path)


async def _migrated_postgres() -> str:
    url = await fresh_postgres_url()
    await _migrate(url)
    return url.rsplit("/", 1)[1]


async def _migrate(url: str) -> None:
    db = open_database(url)
    await db.open()  # applies every migration
    await db.close()  # no connection left open: a database being copied must have none


async def database_url(engine: str, tmp_path: Path) -> str:
    """A new database of ``engine``, migrated (SQLite: ``tmp_path/corral.db``)."""
    if engine == "sqlite":
        return await anyio.to_thread.run_sync(_sqlite_copy, tmp_path / "corral.db")
    return await fresh_postgres_url(await anyio.to_thread.run_sync(_templates.get, engine))


def _sqlite_copy(path: Path) -> str:
    shutil.copyfile(_templates.get("sqlite"), path)
    path.chmod(0o600)  # as a file corral made (it holds key hashes)
    return f"sqlite:///{path}"


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
