"""Warm pools: per environment, sandboxes already started with an empty workspace, claimed in milliseconds.

A pool exists once a ``provision`` or ``prepare`` names an environment with ``warm_pool_size > 0``; a filler
task keeps it at that size. A warm sandbox serves no session and has a ``SANDBOX``-lifetime workspace of its
own. A claim hands the first live warm sandbox to a session that has no workspace yet: the warm workspace
directory is renamed to the session's (the running sandbox keeps its bind mount, which follows the directory)
and becomes the session's, and its egress channel is reassigned to the session. Sessions that already have a
workspace, or need file mounts, start a sandbox of their own.

Invariants: a warm sandbox is handed out at most once; pools are keyed by everything that shapes a sandbox
(environment, networking, packages, limits); a pool not used for ``idle_seconds`` is drained.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeAlias

import anyio
import anyio.to_thread

from corral.errors import SandboxError
from corral.observe import metrics
from corral.sandbox.base import ProvisionSpec
from corral.sandbox.local.host import Host, Spawn
from corral.sandbox.local.sandbox import LocalSandbox
from corral.sandbox.local.workspace import Lifetime, Workspace

log = logging.getLogger("corral.sandbox.local")
_RETRY_SECONDS = 5.0

#: how a pool starts a warm sandbox: ``(spec, session_id, workspace)`` (``Starter.start``)
StartWarm: TypeAlias = Callable[[ProvisionSpec, str, Workspace], Awaitable[LocalSandbox]]


def pool_key(spec: ProvisionSpec) -> str:
    shape = [spec.environment_id, spec.networking, spec.packages, dataclasses.asdict(spec.limits)]
    return json.dumps(shape, sort_keys=True)


class _Pool:
    def __init__(self, template: ProvisionSpec) -> None:
        self.template = template
        self.size = 0
        self.ready: list[LocalSandbox] = []
        self.wanted = anyio.Event()
        self.last_used = time.monotonic()
        metrics.pool_size.labels(template.environment_id or "").set_function(lambda: len(self.live()))

    def live(self) -> list[LocalSandbox]:
        return [s for s in self.ready if s.alive]

    def take(self) -> LocalSandbox | None:
        while self.ready:
            sandbox = self.ready.pop(0)
            if sandbox.alive:
                return sandbox
        return None


class WarmPools:
    def __init__(self, host: Host, start: StartWarm, spawn_task: Spawn) -> None:
        self.host = host
        self._start = start
        self._spawn_task = spawn_task
        self._pools: dict[str, _Pool] = {}

    def _pool(self, spec: ProvisionSpec) -> _Pool | None:
        key = pool_key(spec)
        pool = self._pools.get(key)
        if pool is None and spec.warm_pool_size > 0:
            pool = self._pools[key] = _Pool(spec)
            self._spawn_task(partial(self._fill, pool))
        if pool is not None:
            pool.size, pool.last_used = spec.warm_pool_size, time.monotonic()
            pool.wanted.set()
        return pool

    def ready(self, spec: ProvisionSpec) -> int:
        """Live warm sandboxes ready for sessions shaped like ``spec`` (no side effects)."""
        pool = self._pools.get(pool_key(spec))
        return 0 if pool is None else len([s for s in pool.ready if s.alive])

    async def prepare(self, spec: ProvisionSpec) -> None:
        self._pool(spec)

    async def claim(self, spec: ProvisionSpec) -> LocalSandbox | None:
        pool = self._pool(spec)
        if pool is None or spec.mounts or spec.setup:
            return None
        disk = self.host.disk
        key = Workspace.of_session(spec.session_id).key
        if await anyio.to_thread.run_sync(disk.owner, key) is not None:
            return None
        if self.host.egress is not None and not await self.host.egress.warm_claimable(spec.session_id):
            return None  # its credentials' placeholders belong in the environment a warm sandbox already has
        sandbox = pool.take()
        pool.wanted.set()
        if sandbox is None:
            return None
        warm = sandbox.parts.workspace
        await anyio.to_thread.run_sync(os.rename, disk.workspaces / warm.key, disk.workspaces / key)
        await anyio.to_thread.run_sync(disk.join, key, spec.workspace_id)
        warm.claim(spec.session_id)
        if self.host.egress is not None and sandbox.parts.plan.egress_socket is not None:
            await self.host.egress.assign(sandbox.name, spec.session_id)
        sandbox.claim(spec.session_id, spec)
        return sandbox

    async def _fill(self, pool: _Pool) -> None:
        while True:
            await pool.wanted.wait()
            pool.wanted = anyio.Event()
            while pool.size > 0 and len([s for s in pool.ready if s.alive]) < pool.size:
                try:
                    workspace = Workspace(f"warm-{secrets.token_hex(8)}", Lifetime.SANDBOX)
                    pool.ready.append(await self._start(pool.template, "", workspace))
                except SandboxError as exc:
                    log.warning("warm pool for %s: %s", pool.template.environment_id, exc.message)
                    await anyio.sleep(_RETRY_SECONDS)
                except Exception:  # never let a pool take the provider down; try again later
                    log.exception("warm pool for %s failed", pool.template.environment_id)
                    await anyio.sleep(_RETRY_SECONDS)

    async def reap_idle(self, idle_seconds: float) -> None:
        for pool in self._pools.values():
            if pool.size and time.monotonic() - pool.last_used > idle_seconds:
                pool.size = 0
                await self._drain(pool)

    async def _drain(self, pool: _Pool) -> None:
        while pool.ready:
            await pool.ready.pop().stop("the warm pool was drained")

    async def aclose(self) -> None:
        for pool in self._pools.values():
            pool.size = 0
            await self._drain(pool)
