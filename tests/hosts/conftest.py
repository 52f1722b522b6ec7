"""Shared by the tests of sandbox hosts: per module a database (SQLite, then PostgreSQL) and two real
``corral sandbox-host`` processes on it; the deployment's token, fresh session specs, a worker's remote provider,
and a bash call through any sandbox."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest

from corral.db.engines import open_database
from corral.hosts.remote import CALL_GRACE_SECONDS, CALL_TIMEOUT, PROVISION_TIMEOUT, RemoteSandboxProvider
from corral.sandbox import Limits, ProvisionSpec, Sandbox, ToolResult
from corral.session import NewSession, SessionStore
from tests.conftest import ENGINES, database_url
from tests.hosts.live_host import LiveSandboxHost

TOKEN = "corral-host-token-" + secrets.token_hex(8)
WORKSPACE = "wrkspc_test"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module", params=ENGINES)
def shared_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The module's database, which its hosts share (each test uses sessions of its own): SQLite, then PostgreSQL."""
    return anyio.run(database_url, str(request.param), tmp_path_factory.mktemp("hosts"))


@pytest.fixture(scope="module")
def hosts(shared_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[LiveSandboxHost]]:
    """Two real sandbox hosts on the module's database."""
    started = [LiveSandboxHost(shared_url, tmp_path_factory.mktemp(f"host{i}"), TOKEN) for i in range(2)]
    try:
        for host in started:
            host.start()
        yield started
    finally:
        for host in started:
            host.stop()


@pytest.fixture
async def provider(shared_url: str, hosts: list[LiveSandboxHost]) -> AsyncIterator[RemoteSandboxProvider]:
    async with remote(shared_url) as started:
        yield started


def remote(
    db_url: str, token: str = TOKEN, *, timeout: float | None = None, grace: float = CALL_GRACE_SECONDS
) -> RemoteSandboxProvider:
    """A worker's remote provider; ``timeout`` (when given) bounds every call, provisioning too; ``grace`` is added
    to a sandbox call's own wall-clock limit."""
    return RemoteSandboxProvider(
        open_database(db_url),
        token,
        owns_database=True,
        call_grace=grace,
        call_timeout=timeout or CALL_TIMEOUT,
        provision_timeout=timeout or PROVISION_TIMEOUT,
    )


async def new_spec(worker: RemoteSandboxProvider, limits: Limits | None = None) -> ProvisionSpec:
    """The recipe of a new session's sandbox; the session is recorded in the worker's database (a host forgets the
    sandboxes and workspaces of sessions that do not exist)."""
    store = SessionStore(worker.directory.db)
    try:
        new = NewSession(WORKSPACE, "agent_test", 1, "env_test", {"agent": {"type": "agent"}, "resources": []})
        record, _ = await store.create_session(new)
    finally:
        await store.aclose()
    return ProvisionSpec(session_id=record.id, environment_id="env_test", limits=limits or Limits())


def text_of(result: ToolResult) -> str:
    return "\n".join(str(block.get("text", "")) for block in result.content)


async def bash(sandbox: Sandbox, command: str, tool_use_id: str | None = None) -> ToolResult:
    return await sandbox.execute("bash", {"command": command}, tool_use_id or f"toolu_{secrets.token_hex(8)}")
