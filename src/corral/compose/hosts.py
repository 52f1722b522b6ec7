"""Sandbox hosts in the composition root: the ``corral sandbox-host`` process and the workers' ``remote`` provider.

``run_sandbox_host`` opens the database, the vault (the egress injects sessions' credentials), the egress proxy, the
blob store and the stores on it (files, skills, memory stores: the sessions' resources, which the host mounts and
writes back itself, ``compose.attachments``) and the machine's ``local`` provider, whose workspaces follow their
sessions through snapshots in the blob store when ``Settings.snapshots_enabled`` (as ``corral serve``'s do);
serves the host API (``corral.hosts.server``) with uvicorn; registers the host in the directory once it listens
and renews its lease with its figures (live sandboxes, warm ones waiting) every third of ``lease_ttl_seconds``;
keeps environments' warm pools filled and forgets deleted sessions, as ``corral serve`` does for its own
sandboxes. On SIGTERM or SIGINT it stops serving, expires its lease (no placement reaches it any more) and
releases its sandboxes, writing back what they left.

``remote_provider`` is the ``remote`` entry of the ``corral.sandboxes`` group: a ``RemoteSandboxProvider`` with
its own connection to the deployment's database.

Invariants: the host's id is kept in its data dir (``sandbox-host.id``), so a restarted host keeps its placements
and the workspaces and journals on its disk; both sides refuse to start without ``CORRAL_SANDBOX_HOST_TOKEN``. It is
a comma-separated list while a token rotates: a host accepts each, a worker sends the first.
"""

from __future__ import annotations

import logging
import secrets
import signal
import socket
from collections.abc import AsyncIterator, Generator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path

import anyio
import anyio.to_thread
import uvicorn

from corral.catalog import Catalog
from corral.compose.attachments import Stores, session_attachments
from corral.compose.blobs import open_blob_store
from corral.compose.bootstrap import make_catalog, open_db, open_keyring
from corral.compose.credentials import session_secrets
from corral.compose.upkeep import forget_deleted_sessions, keep_pools_warm
from corral.config import Settings
from corral.egress.guarded import guarded_client
from corral.egress.process import address_guard, open_egress
from corral.errors import ConfigError, CorralError, NotFound
from corral.files import FileStore
from corral.hosts.directory import HostDirectory, HostReport
from corral.hosts.remote import RemoteSandboxProvider
from corral.hosts.server import SandboxHost, WorkspaceOf, host_app
from corral.memory import MemoryStores
from corral.sandbox import SandboxProvider
from corral.sandbox.network import EgressGateway
from corral.sandbox.recipe import environment_spec
from corral.sandbox.registry import provider_factory
from corral.sandbox.workspaces import WorkspaceStore
from corral.session import SessionStore, WorkspaceRecords
from corral.skills import SkillStore
from corral.vault import VaultStore

log = logging.getLogger("corral.hosts")
ID_FILE = "sandbox-host.id"


def host_tokens(settings: Settings) -> list[str]:
    """The deployment's tokens, the one workers send first (``CORRAL_SANDBOX_HOST_TOKEN``, comma-separated)."""
    tokens = [token.strip() for token in (settings.sandbox_host_token or "").split(",") if token.strip()]
    if not tokens:
        raise ConfigError("CORRAL_SANDBOX_HOST_TOKEN is not set: workers and sandbox hosts share it")
    return tokens


def remote_provider(settings: Settings, egress: EgressGateway | None = None) -> SandboxProvider:
    """The ``remote`` provider (``egress`` is unused: each host runs its own)."""
    return RemoteSandboxProvider(open_db(settings), host_tokens(settings)[0], owns_database=True)


def host_id(data_dir: Path) -> str:
    """This host's id, made on its first start (blocking)."""
    path = data_dir / ID_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text("host_" + secrets.token_hex(8))
    return path.read_text().strip()


def host_url(settings: Settings) -> str:
    return (settings.sandbox_host_url or f"http://{settings.host}:{settings.sandbox_host_port}").rstrip("/")


async def warm_sandboxes(catalog: Catalog, provider: SandboxProvider) -> int:
    """The warm sandboxes waiting on this host, all environments together (placement prefers a host with some)."""
    specs = [environment_spec(record.id, record.config) for record in await catalog.live_environments()]
    return sum(provider.warm_ready(spec) for spec in specs if spec.warm_pool_size > 0)


async def _keep_registered(
    directory: HostDirectory, report: HostReport, host: SandboxHost, catalog: Catalog, ttl: float
) -> None:
    """Renew the lease with the host's figures, every third of ``ttl``."""
    while True:
        try:
            warm = await warm_sandboxes(catalog, host.provider)
            figures = HostReport(report.host_id, report.url, host.capacity, host.in_use(), warm)
            await directory.report(figures, ttl)
            host.registered = True
        except CorralError as exc:  # the database is unwell: the next round tries again (the lease may lapse)
            log.warning("renewing the sandbox host's lease failed: %s", exc.message)
        await anyio.sleep(ttl / 3)


def _listen(settings: Settings) -> socket.socket:
    """The host's listening socket, bound before it registers: a worker that places a session at once is queued
    by the kernel until the server accepts, never refused."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit it: without it a reply written in two parts waits for a delayed ACK (~40 ms)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((settings.host, settings.sandbox_host_port))
    sock.listen(4096)
    return sock


async def run_sandbox_host(settings: Settings) -> None:
    """``corral sandbox-host``: serve this machine's sandboxes to the workers until SIGTERM or SIGINT."""
    tokens = host_tokens(settings)
    async with AsyncExitStack() as stack:
        db = open_db(settings)
        await db.open()
        stack.push_async_callback(db.close)
        sessions = SessionStore(db)
        stack.push_async_callback(sessions.aclose)
        http = await stack.enter_async_context(guarded_client(address_guard(settings)))
        vaults = VaultStore(db, await open_keyring(settings), http=http)
        stack.push_async_callback(vaults.aclose)
        egress = await open_egress(stack, settings, session_secrets(sessions, vaults, vaults.resource_tokens))
        stores = await _stores(stack, settings, sessions, vaults)
        provider = provider_factory("local")(settings, egress)
        if settings.snapshots_enabled:  # a session's workspace follows it to whichever host runs it next
            provider.follow_workspaces(WorkspaceStore(stores.blobs, WorkspaceRecords(db)))
        provider = await stack.enter_async_context(provider)
        refresh = egress.refresh if egress is not None else None  # a rotated repository token, before the next call
        attachments = session_attachments(stores, provider, refresh)
        host = SandboxHost(
            provider,
            settings.sandbox_host_capacity,
            attachments,
            _workspaces(sessions),
            max_per_workspace=settings.max_sandboxes_per_workspace,
        )
        stack.push_async_callback(host.aclose)  # before the provider closes: what the sandboxes left is written back
        directory = HostDirectory(db)
        report = HostReport(await anyio.to_thread.run_sync(host_id, settings.data_dir), host_url(settings), 0)
        await _serve(settings, host, tokens, directory, report, make_catalog(db, settings), sessions)
        await directory.expire(report.host_id)


async def _stores(stack: AsyncExitStack, settings: Settings, sessions: SessionStore, vaults: VaultStore) -> Stores:
    """The stores sessions' resources live in (the blob store must be the deployment's: S3 across machines)."""
    blobs = await stack.enter_async_context(open_blob_store(settings))
    db = sessions.db
    files = FileStore(
        db, blobs, max_bytes=settings.blob_max_bytes, uploads_downloadable=settings.file_uploads_downloadable
    )
    skills = SkillStore(db, blobs, max_bytes=settings.blob_max_bytes)
    return Stores(sessions, blobs, files, MemoryStores(db), skills, vaults)


def _workspaces(sessions: SessionStore) -> WorkspaceOf:
    async def workspace_of(session_id: str) -> str | None:
        try:
            return (await sessions.get_session(session_id)).workspace_id
        except NotFound:
            return None

    return workspace_of


class _Server(uvicorn.Server):
    """uvicorn's server without its signal handling: after a graceful stop, uvicorn raises the signal again, which
    would end the process before the host gives its lease up and writes back what its sandboxes left."""

    @contextmanager
    def capture_signals(self) -> Generator[None]:
        yield


async def _stop_on(signals: AsyncIterator[int], server: uvicorn.Server) -> None:
    async for _ in signals:
        server.should_exit = True  # serving ends (gracefully), then the host leaves the directory
        return


async def _serve(
    settings: Settings,
    host: SandboxHost,
    tokens: list[str],
    directory: HostDirectory,
    report: HostReport,
    catalog: Catalog,
    sessions: SessionStore,
) -> None:
    config = uvicorn.Config(
        host_app(host, tokens),
        log_level="warning",
        access_log=False,
        timeout_keep_alive=75,  # longer than workers' keep-alive expiry
        timeout_graceful_shutdown=5,
    )
    server = _Server(config)
    with _listen(settings) as sock, anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        await directory.report(report, settings.lease_ttl_seconds)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_stop_on, signals, server)
            tasks.start_soon(_keep_registered, directory, report, host, catalog, settings.lease_ttl_seconds)
            tasks.start_soon(keep_pools_warm, catalog, host.provider)
            tasks.start_soon(forget_deleted_sessions, sessions, host.provider, host.attachments)
            await server.serve(sockets=[sock])  # returns on SIGTERM / SIGINT
            tasks.cancel_scope.cancel()
