"""The composition root: the one place that picks concrete parts and wires them together.

``open_services(settings)`` opens, in order, the database (migrating it), the session store, the catalog (ensuring
the default workspace), the vault store (loading or, on a first start, making its master key), the blob store
(``corral.compose.blobs``) and the file and skill stores on it, the memory stores (rows only: no resource of their
own), the sessions' workspace snapshots on it (``WorkspaceStore``: the workers snapshot when
``Settings.snapshots_enabled``, so workspaces follow their session to any machine; the blob collector keeps what
snapshots hold in every process, an API-only one too), then the background task group
(which also collects orphaned blobs, ``corral.compose.collect``); closing runs in reverse. The API lifespan holds it
for the life of the server; ``corral`` CLI commands and ``corral bench`` may hold it too.

Adding a component (harness workers, the sandbox provider, the egress proxy …): give ``Services`` a field,
open it in ``open_services`` after what it depends on, register its cleanup on ``stack``, and start its
long-running loops with ``services.tasks.start_soon(...)``. Those tasks are cancelled before anything they use
is closed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import anyio
from anyio.abc import TaskGroup

from corral.blobs import BlobStore
from corral.catalog import Catalog
from corral.compose.attachments import Stores
from corral.compose.blobs import open_blob_store
from corral.compose.bootstrap import make_catalog, open_db, open_keyring
from corral.compose.collect import collect_forever, live_blobs
from corral.compose.upkeep import forget_deleted_sessions, keep_pools_warm
from corral.compose.workers import open_workers
from corral.config import Settings
from corral.db import Database
from corral.egress.guarded import guarded_client
from corral.egress.process import address_guard
from corral.files import FileStore
from corral.harness import Runtime
from corral.memory import MemoryStores
from corral.sandbox.workspaces import WorkspaceStore
from corral.session import SessionStore, WorkspaceRecords
from corral.skills import SkillStore
from corral.vault import VaultStore


@dataclass
class StreamStats:
    """Live SSE connections (``GET /v1/sessions/{id}/events/stream``) open right now."""

    open_streams: int = 0


@dataclass
class Services:
    settings: Settings
    db: Database
    sessions: SessionStore
    catalog: Catalog
    vaults: VaultStore
    blobs: BlobStore
    files: FileStore
    memory: MemoryStores
    skills: SkillStore
    tasks: TaskGroup
    streams: StreamStats = field(default_factory=StreamStats)
    runtime: Runtime | None = None  # harness workers (corral.compose.workers); None in an API-only process


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncGenerator[Services]:
    async with AsyncExitStack() as stack:
        db = open_db(settings)
        await db.open()
        stack.push_async_callback(db.close)
        sessions = SessionStore(db)
        stack.push_async_callback(sessions.aclose)
        catalog = make_catalog(db, settings)
        await catalog.ensure_default_workspace()
        # the vault's own requests (token refresh, validation probes) go where a user said: under the egress's rule
        http = await stack.enter_async_context(guarded_client(address_guard(settings)))
        vaults = VaultStore(db, await open_keyring(settings), http=http)
        stack.push_async_callback(vaults.aclose)
        await vaults.missing_keys()  # logged: a process with a key of its own cannot use the others' secrets
        blobs = await stack.enter_async_context(open_blob_store(settings))
        files = FileStore(
            db, blobs, max_bytes=settings.blob_max_bytes, uploads_downloadable=settings.file_uploads_downloadable
        )
        skills = SkillStore(db, blobs, max_bytes=settings.blob_max_bytes)
        memory = MemoryStores(db)
        stores = Stores(sessions, blobs, files, memory, skills, vaults)
        workspaces = WorkspaceStore(blobs, WorkspaceRecords(db))
        follow = workspaces if settings.snapshots_enabled else None  # collected from either way: another may snapshot
        runtime = await open_workers(stack, settings, sessions, catalog, vaults, stores, follow)
        tasks = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(tasks.cancel_scope.cancel)  # runs first on exit: stop background loops, then close
        tasks.start_soon(collect_forever, blobs, live_blobs(files, skills, sessions, workspaces))
        if runtime is not None:
            await tasks.start(runtime.run)
            if runtime.sandbox is not None:
                tasks.start_soon(keep_pools_warm, catalog, runtime.sandbox)
                tasks.start_soon(forget_deleted_sessions, sessions, runtime.sandbox, runtime.attachments)
        yield Services(
            settings=settings,
            db=db,
            sessions=sessions,
            catalog=catalog,
            vaults=vaults,
            blobs=blobs,
            files=files,
            memory=memory,
            skills=skills,
            tasks=tasks,
            runtime=runtime,
        )
