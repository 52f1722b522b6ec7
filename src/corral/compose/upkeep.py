"""Sandbox upkeep beside the workers and on sandbox hosts: environments prepared ahead of sessions (package
layers, warm pools) and the state of deleted sessions forgotten. It needs the catalog, the session store and a
provider, never the harness: a sandbox host runs it without loading the model SDKs."""

from __future__ import annotations

import logging

import anyio

from corral.catalog import Catalog
from corral.errors import CorralError
from corral.sandbox import ProvisionSpec, SandboxProvider
from corral.sandbox.attach import SessionAttachments
from corral.sandbox.recipe import environment_spec
from corral.session import SessionStore

log = logging.getLogger("corral.workers")


POOL_SWEEP_SECONDS = 30.0


async def keep_pools_warm(catalog: Catalog, sandbox: SandboxProvider, every: float = POOL_SWEEP_SECONDS) -> None:
    """Prepare what environments ask for before any session needs it: their package layers (``packages``) and
    warm pools (``config.corral.warm_pool_size``): at start, then every ``every`` seconds, which also picks up
    environments created or changed through another process. Asking again is cheap: a provider only builds what
    is missing and tops a pool up. A failure is logged; a session that needs the environment reports it too."""
    while True:
        try:
            for record in await catalog.live_environments():
                spec = environment_spec(record.id, record.config)
                if spec.warm_pool_size > 0 or spec.packages:
                    await _prepare(sandbox, spec)
        except CorralError as exc:  # the database is unwell: the next sweep tries again
            log.warning("preparing environments failed: %s", exc.message)
        await anyio.sleep(every)


async def _prepare(sandbox: SandboxProvider, spec: ProvisionSpec) -> None:
    try:
        await sandbox.prepare(spec)
    except CorralError as exc:
        log.warning("environment %s could not be prepared: %s", spec.environment_id, exc.message)


FORGET_SWEEP_SECONDS = 60.0


async def forget_deleted_sessions(
    sessions: SessionStore,
    sandbox: SandboxProvider,
    attachments: SessionAttachments,
    every: float = FORGET_SWEEP_SECONDS,
) -> None:
    """Drop what this process keeps for sessions that were deleted (their workspace, tool journal, outputs and
    mounted files): a session is deleted through the API, in whatever process, so the workers look for those
    gone, at start and then every ``every`` seconds. A failure is logged; the next sweep tries again."""
    while True:
        try:
            await sweep_deleted(sessions, sandbox, attachments)
        except CorralError as exc:
            log.warning("forgetting deleted sessions failed: %s", exc.message)
        await anyio.sleep(every)


async def sweep_deleted(sessions: SessionStore, sandbox: SandboxProvider, attachments: SessionAttachments) -> list[str]:
    """Forget every session the provider keeps state for that no longer exists; the ids forgotten."""
    kept = await sandbox.kept_sessions()
    gone = sorted(set(kept) - await sessions.existing(kept)) if kept else []
    for session_id in gone:
        await sandbox.forget(session_id)
        await attachments.forget(session_id)
    return gone
