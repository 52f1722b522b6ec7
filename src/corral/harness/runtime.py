"""``Runtime``: the brain side of a process, built by a composition root (``corral serve``, ``corral worker``).

The composition root passes in what the harness may not pick itself: the ``SessionStore`` (on the engine
it chose), the sandbox provider, how to read an environment's config (``EnvironmentSource``), the
server-side tool executors (``web_fetch`` …), the source of MCP tools (``mcp``) and what sessions' resources
bring into their sandboxes (``attachments``); the extensions agents select are found by their entry points
(``corral.extend``), their tools journalled under ``<data_dir>/extensions/journal``; it may pass the judge of
``auto`` permission policies (default: the written ``RuleJudge``). ``Runtime.running()`` starts the worker pools
and stops them cleanly: on the way out every session being driven is released, still runnable, for another worker.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread

from corral.config import Settings
from corral.harness.extensions import ExtensionHost
from corral.harness.harness import Harness, Hook, TurnLimits
from corral.harness.models.registry import ModelRegistry
from corral.harness.policy import Judge, RuleJudge
from corral.harness.router import ToolExecutor, ToolSource
from corral.harness.warm import WarmLogs
from corral.harness.worker import WorkerPool
from corral.sandbox import SandboxProvider
from corral.sandbox.attach import NO_ATTACHMENTS, SessionAttachments
from corral.sandbox.hands import HandsPool
from corral.sandbox.recipe import Environments, EnvironmentSource, no_environments
from corral.session import SessionStore


class Runtime:
    def __init__(
        self,
        store: SessionStore,
        settings: Settings,
        *,
        sandbox: SandboxProvider | None = None,
        environments: EnvironmentSource = no_environments,
        executors: Sequence[ToolExecutor] = (),
        mcp: ToolSource | None = None,
        attachments: SessionAttachments = NO_ATTACHMENTS,
        hook: Hook | None = None,
        judge: Judge | None = None,
        pools: int | None = None,
        poll_interval: float = 0.5,
    ):
        self.sandbox = sandbox
        self.attachments = attachments
        configs = Environments(environments)
        hands = HandsPool(
            sandbox,
            configs,
            mode=settings.sandbox_mode,
            idle_seconds=settings.sandbox_idle_seconds,
            attachments=attachments,
        )
        models = ModelRegistry(settings.providers)
        limits = TurnLimits.from_settings(settings)
        extensions = ExtensionHost(settings.data_dir / "extensions" / "journal")
        self.harness = Harness(
            store,
            models,
            hands,
            limits,
            tuple(executors),
            hook,
            judge or RuleJudge(),
            mcp,
            settings.prices,
            extensions=extensions,
            warm=WarmLogs(settings.warm_log_events),
        )
        count = settings.workers if pools is None else pools
        self.pools = [
            WorkerPool(self.harness, concurrency=settings.worker_concurrency, poll_interval=poll_interval)
            for _ in range(count)
        ]

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run the pools until cancelled."""
        try:
            await anyio.to_thread.run_sync(self.harness.models.warm)
            async with anyio.create_task_group() as group:
                for pool in self.pools:
                    await group.start(pool.run)
                group.start_soon(self.harness.hands.reap)
                task_status.started()
        finally:
            with anyio.CancelScope(shield=True):
                await self.harness.aclose()

    @asynccontextmanager
    async def running(self) -> AsyncGenerator[Runtime]:
        async with anyio.create_task_group() as group:
            await group.start(self.run)
            try:
                yield self
            finally:
                group.cancel_scope.cancel()
