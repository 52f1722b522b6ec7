"""Hands: a session's sandbox, provisioned only when a tool call needs it.

Provisioning modes (``Settings.sandbox_mode``, overridden per environment by ``config.corral.provisioning``):
``lazy`` provisions inside the first sandbox tool call; ``speculative`` starts as soon as the model's stream
shows a sandbox tool_use block starting; ``eager`` starts at the beginning of a turn of an agent that has
sandbox tools. Speculation never delays the model: it runs beside the stream.

Invariants:

* At most one live sandbox per session per worker; provisioning is serialised (one lock).
* A sandbox that dies (``alive`` false after a call) or cannot be provisioned is a tool error for that
  call, never an exception out of the harness; the next call provisions a fresh one from the same recipe.
* Before provisioning for a call, the provider's journal is asked (``recorded``): a call that already has
  a result (a takeover after a crash) gets it back without a sandbox being built.
* The recipe (``ProvisionSpec``) comes from the environment's config (``environments.Environments``, read
  through the source the composition root supplies); the harness knows no catalog.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from contextlib import contextmanager

import anyio

from corral._types import JSONObject
from corral.errors import SandboxError
from corral.harness.environments import DEFAULT_CONFIG, Environments, extension
from corral.sandbox import ProvisionSpec, Sandbox, SandboxProvider, ToolResult

log = logging.getLogger(__name__)

MODES = ("lazy", "speculative", "eager")


def environment_spec(
    environment_id: str, config: JSONObject, session_id: str = "", tool_configs: JSONObject | None = None
) -> ProvisionSpec:
    """The recipe of an environment's sandboxes (for a session, or with no session: a warm pool's)."""
    return ProvisionSpec(
        session_id=session_id,
        environment_id=environment_id,
        networking=dict(config.get("networking") or DEFAULT_CONFIG["networking"]),
        packages=dict(config.get("packages") or {}),
        tool_configs=dict(tool_configs or {}),
        warm_pool_size=int(extension(config).get("warm_pool_size") or 0),
    )


class Hands:
    def __init__(self, session_id: str, provider: SandboxProvider, environments: Environments, mode: str):
        self.session_id = session_id
        self._provider = provider
        self._environments = environments
        self._default_mode = mode
        self._sandbox: Sandbox | None = None
        self._lock = anyio.Lock()
        self.workspace_id = ""
        self.environment_id = ""
        self.tool_configs: JSONObject = {}
        self.last_used = anyio.current_time()
        self.users = 0

    def bind(self, workspace_id: str, environment_id: str, tool_configs: JSONObject) -> None:
        """The recipe's inputs for this turn (the agent's tool configs may change between turns)."""
        self.workspace_id = workspace_id
        self.environment_id = environment_id
        self.tool_configs = tool_configs

    async def config(self) -> JSONObject:
        return await self._environments.config(self.workspace_id, self.environment_id)

    async def mode(self) -> str:
        mode = extension(await self.config()).get("provisioning")
        return str(mode) if mode in MODES else self._default_mode

    async def spec(self) -> ProvisionSpec:
        return environment_spec(self.environment_id, await self.config(), self.session_id, self.tool_configs)

    async def sandbox(self) -> Sandbox:
        async with self._lock:
            if self._sandbox is not None and not self._sandbox.alive:
                await self._discard()
            if self._sandbox is None:
                self._sandbox = await self._provider.provision(await self.spec())
            return self._sandbox

    async def warm(self) -> None:
        """Provision ahead of need (speculative / eager); a failure is reported by the call that needs it."""
        try:
            await self.sandbox()
        except SandboxError as exc:
            log.warning("speculative provisioning for %s failed: %s", self.session_id, exc.message)

    async def execute(self, name: str, input: JSONObject, tool_use_id: str) -> ToolResult:
        self.last_used = anyio.current_time()
        recorded = await self._provider.recorded(self.session_id, tool_use_id)
        if recorded is not None:
            return recorded
        try:
            sandbox = await self.sandbox()
        except SandboxError as exc:
            return ToolResult.error(f"{name}: the sandbox could not be provisioned: {exc.message}")
        result = await sandbox.execute(name, input, tool_use_id)
        if not sandbox.alive:
            async with self._lock:
                if self._sandbox is sandbox:
                    await self._discard()
        self.last_used = anyio.current_time()
        return result

    async def _discard(self) -> None:
        sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None:
            with anyio.CancelScope(shield=True):
                try:
                    await sandbox.release()
                except SandboxError as exc:
                    log.warning("releasing a dead sandbox of %s failed: %s", self.session_id, exc.message)

    async def release(self) -> None:
        async with self._lock:
            await self._discard()

    @property
    def provisioned(self) -> bool:
        return self._sandbox is not None


class HandsPool:
    """This worker's sandboxes, one ``Hands`` per session, released after ``idle_seconds`` unused."""

    def __init__(self, provider: SandboxProvider | None, environments: Environments, *, mode: str, idle_seconds: float):
        self.provider = provider
        self._environments = environments
        self._mode = mode if mode in MODES else "lazy"
        self._idle = idle_seconds
        self._hands: dict[str, Hands] = {}

    @contextmanager
    def use(self, session_id: str) -> Generator[Hands | None]:
        """The session's hands for the duration of a wake (never reaped while in use)."""
        if self.provider is None:
            yield None
            return
        hands = self._hands.get(session_id)
        if hands is None:
            hands = self._hands[session_id] = Hands(session_id, self.provider, self._environments, self._mode)
        hands.users += 1
        try:
            yield hands
        finally:
            hands.users -= 1
            hands.last_used = anyio.current_time()

    async def reap(self) -> None:
        """Release sandboxes idle for longer than ``idle_seconds`` (run as a background task)."""
        while True:
            await anyio.sleep(min(30.0, max(self._idle / 4, 0.5)))
            cutoff = anyio.current_time() - self._idle
            for session_id, hands in list(self._hands.items()):
                if hands.last_used < cutoff and hands.users == 0:
                    self._hands.pop(session_id, None)
                    await hands.release()

    async def aclose(self) -> None:
        hands, self._hands = list(self._hands.values()), {}
        for item in hands:
            await item.release()
