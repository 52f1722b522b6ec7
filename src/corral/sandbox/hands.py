"""Hands: a session's sandbox as the harness holds it — provisioned only when needed, replaced when it dies.

The harness tells the hands what is happening (``turn_started``, ``tool_block_started``) and asks them to
``execute``; when to provision is decided here, by the environment's provisioning mode
(``recipe.provisioning_mode``; ``Settings.sandbox_mode`` by default):

* ``lazy``: inside the first sandbox tool call;
* ``speculative``: as soon as the model's stream shows a sandbox tool call starting;
* ``eager``: when a turn of an agent with sandbox tools starts.

Ahead-of-need provisioning runs in the background (the wake's task group) and never delays the model.

Invariants:

* At most one live sandbox per session per process; provisioning is serialised (one lock).
* A sandbox that dies (``alive`` false after a call) or cannot be provisioned is a tool error for that call,
  never an exception out of ``execute``; the next call provisions a fresh one from the same recipe.
* What the harness reports on the session, it takes once: provisioning failures (``take_failures``) and the
  notices of each sandbox provisioned (``take_notices``: non-secret facts, e.g. a credential it cannot use).
* Before provisioning for a call, the provider's journal is asked (``recorded``): a call that already has a
  result (a takeover after a crash) gets it back without a sandbox being built.
* The sandbox runs what it is asked: which tools an agent may use is decided on the harness side.
* A session's resources reach its sandboxes through ``SessionAttachments`` (``corral.sandbox.attach``): asked at
  each provisioning (mounts and set-up steps), told before each sandbox call (``before_call``: refresh what
  mounted directories show), after it (``after_call``: write back), when a turn ends (``turn_ended``: collect
  outputs; the provider's ``checkpoint`` saves the workspace) and when the sandbox is released (``released``). A
  set-up step that fails is a notice, never a failed call.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Generator, Iterable
from contextlib import contextmanager
from dataclasses import replace

import anyio
from anyio.abc import TaskGroup

from corral._types import JSONObject
from corral.errors import SandboxError
from corral.observe import metrics
from corral.sandbox.attach import NO_ATTACHMENTS, SessionAttachments
from corral.sandbox.base import ProvisionNotice, ProvisionSpec, Sandbox, SandboxProvider, Setup, ToolResult
from corral.sandbox.recipe import Environments, environment_spec, provisioning_mode, self_hosted
from corral.vocab.options import ProvisioningMode
from corral.vocab.tools import BASH, is_sandbox_tool

log = logging.getLogger(__name__)


async def set_up(sandbox: Sandbox, steps: Iterable[Setup]) -> list[ProvisionNotice]:
    """Run the set-up steps of a fresh sandbox; each that fails is a notice (the sandbox is used anyway)."""
    notices: list[ProvisionNotice] = []
    for step in steps:
        tool_use_id = f"setup_{secrets.token_hex(8)}"  # never journalled as done: a fresh sandbox runs it again
        command: JSONObject = {"command": step.command, "timeout_ms": int(step.timeout_seconds * 1000)}
        result = await sandbox.execute(BASH, command, tool_use_id)
        if result.is_error:
            notices.append(step.failed(" ".join(str(block.get("text", "")) for block in result.content)))
    return notices


class Hands:
    def __init__(
        self,
        session_id: str,
        provider: SandboxProvider,
        environments: Environments,
        mode: ProvisioningMode,
        attachments: SessionAttachments = NO_ATTACHMENTS,
    ):
        self.session_id = session_id
        self._provider = provider
        self._attachments = attachments
        self._environments = environments
        self._default_mode: ProvisioningMode = mode
        self._sandbox: Sandbox | None = None
        self._lock = anyio.Lock()
        self._background: TaskGroup | None = None
        self.workspace_id = ""
        self.environment_id = ""
        #: the session's log shows sandbox calls already run: its workspace must be found, not recreated
        self.workspace_expected = False
        #: provisioning failures not yet reported on the session (``take_failures``)
        self._failures: list[SandboxError] = []
        #: notices of the sandboxes provisioned, not yet reported on the session (``take_notices``)
        self._notices: list[ProvisionNotice] = []
        self.last_used = anyio.current_time()
        self.users = 0

    def attach(self, background: TaskGroup | None) -> None:
        """Where ahead-of-need provisioning runs: the task group of the wake using these hands (None: nowhere)."""
        self._background = background

    def bind(self, workspace_id: str, environment_id: str) -> None:
        """Whose recipe to build from (a session's environment never changes, but a takeover rebinds)."""
        self.workspace_id = workspace_id
        self.environment_id = environment_id

    async def config(self) -> JSONObject:
        return await self._environments.config(self.workspace_id, self.environment_id)

    async def spec(self) -> ProvisionSpec:
        config = await self.config()
        spec = environment_spec(
            self.environment_id,
            config,
            self.session_id,
            workspace_id=self.workspace_id,
            workspace_expected=self.workspace_expected,
        )
        attached = await self._attachments.attachments(self.workspace_id, self.session_id)
        return replace(spec, mounts=attached.mounts, setup=attached.setup)

    # ------------------------------------------------------------------ what the harness tells the hands

    def turn_started(self) -> None:
        """A turn of an agent that has sandbox tools starts (``eager`` provisions now)."""
        self._ahead("eager")

    def tool_block_started(self, name: str) -> None:
        """The model's stream started a tool call (``speculative`` provisions now, for a sandbox tool)."""
        if is_sandbox_tool(name) and self._sandbox is None:
            self._ahead("speculative")

    def _ahead(self, mode: ProvisioningMode) -> None:
        if self._background is not None:
            self._background.start_soon(self._warm_if, mode)

    async def _warm_if(self, mode: ProvisioningMode) -> None:
        config = await self.config()
        if self_hosted(config) or provisioning_mode(config, self._default_mode) != mode:
            return
        try:
            await self.sandbox()
        except SandboxError as exc:  # the call that needs it reports the failure
            log.warning("provisioning ahead of need for %s failed: %s", self.session_id, exc.message)

    # ------------------------------------------------------------------ execute

    async def sandbox(self) -> Sandbox:
        async with self._lock:
            if self._sandbox is not None and not self._sandbox.alive:
                await self._discard()
            if self._sandbox is None:
                spec = await self.spec()
                sandbox = await self._provider.provision(spec)
                metrics.sandbox_starts.inc()
                self._notices.extend(sandbox.notices)
                self._notices.extend(await set_up(sandbox, spec.setup))
                self._sandbox = sandbox
            return self._sandbox

    async def execute(self, name: str, input: JSONObject, tool_use_id: str) -> ToolResult:
        self.last_used = anyio.current_time()
        recorded = await self._provider.recorded(self.session_id, tool_use_id)
        if recorded is not None:
            return recorded
        try:
            sandbox = await self.sandbox()
        except SandboxError as exc:
            self._failures.append(exc)
            return ToolResult.error(f"{name}: the sandbox could not be provisioned: {exc.message}")
        await self._attachments.before_call(self.workspace_id, self.session_id, name)
        result = await sandbox.execute(name, input, tool_use_id)
        await self._attachments.after_call(self.workspace_id, self.session_id, name)
        self._notices.extend(self._attachments.take_notices(self.session_id))
        if not sandbox.alive:
            metrics.sandbox_deaths.inc()
            log.warning(
                "the sandbox of %s died during %s %s; the next call gets a fresh one",
                self.session_id,
                name,
                tool_use_id,
            )
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
                await self._attachments.released(self.workspace_id, self.session_id)

    async def release(self) -> None:
        async with self._lock:
            await self._discard()

    async def turn_ended(self) -> None:
        """The session's turn ends: its attachments collect what the sandbox left for the user (outputs), and the
        provider saves its workspace (``checkpoint``) where the session's next sandbox, on any host, finds it."""
        if self._sandbox is not None:
            await self._attachments.turn_ended(self.workspace_id, self.session_id)
            self._notices.extend(self._attachments.take_notices(self.session_id))
            self._notices.extend(await self._provider.checkpoint(self.session_id))

    def take_failures(self) -> list[SandboxError]:
        """The provisioning failures since the last call (a call's error result says it to the model; the
        harness also reports it on the session, where its client sees it)."""
        failures, self._failures = self._failures, []
        return failures

    def take_notices(self) -> list[ProvisionNotice]:
        """The notices of the sandboxes provisioned since the last call (each sandbox's, once)."""
        notices, self._notices = self._notices, []
        return notices

    @property
    def provisioned(self) -> bool:
        return self._sandbox is not None


class HandsPool:
    """This process's sandboxes, one ``Hands`` per session, released after ``idle_seconds`` unused."""

    def __init__(
        self,
        provider: SandboxProvider | None,
        environments: Environments,
        *,
        mode: ProvisioningMode,
        idle_seconds: float,
        attachments: SessionAttachments = NO_ATTACHMENTS,
    ):
        self.provider = provider
        self.attachments = attachments
        self.environments = environments
        self._mode: ProvisioningMode = mode
        self._idle = idle_seconds
        self._hands: dict[str, Hands] = {}

    @contextmanager
    def use(self, session_id: str, background: TaskGroup) -> Generator[Hands | None]:
        """The session's hands for the duration of a wake (never reaped while in use); ahead-of-need
        provisioning runs in ``background``, the wake's task group."""
        if self.provider is None:
            yield None
            return
        hands = self._hands.get(session_id)
        if hands is None:
            hands = self._hands[session_id] = Hands(
                session_id, self.provider, self.environments, self._mode, self.attachments
            )
        hands.users += 1
        hands.attach(background)
        try:
            yield hands
        finally:
            hands.users -= 1
            hands.last_used = anyio.current_time()
            if hands.users == 0:
                hands.attach(None)

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
