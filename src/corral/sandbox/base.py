"""The hands of the design: ``SandboxProvider.provision(spec) -> Sandbox``, ``Sandbox.execute(...)``.

Invariants every provider keeps:

* A sandbox runs what it is asked: which tools an agent may use, and whether a call's input fits the tool's
  schema, is decided on the harness side before ``execute`` is called.
* ``execute(name, input, tool_use_id)`` never raises for a failure of the *tool* or of the *sandbox*:
  both come back as a ``ToolResult`` with ``is_error=True`` and a message the model can read. A dead
  sandbox reports ``alive == False`` afterwards; the caller provisions a fresh one for the next call.
* Execution is keyed by ``tool_use_id`` in a journal kept outside the sandbox (it survives the sandbox
  and the harness): a call whose result is recorded returns that result without running again; a call
  that started but never finished (its harness or sandbox died mid-call) returns an ``interrupted``
  error result and is **not** run again, so no side effect ever happens twice.
* Nothing secret is ever part of a ``ProvisionSpec`` or visible inside a sandbox, nor of a ``ProvisionNotice``
  (ids and names only).
* A provider is used inside ``async with provider:``; entering starts its housekeeping (idle reclaim, warm
  pools), leaving releases every sandbox it still holds (``aclose``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from corral._types import JSONObject

if TYPE_CHECKING:  # corral.sandbox.workspaces imports this package (its errors and blobs); only the type is needed
    from corral.sandbox.workspaces import WorkspaceStore


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 512 * 1024 * 1024
    pids: int = 256
    cpu_fraction: float = 1.0
    wall_seconds: float = 150.0
    output_bytes: int = 100 * 1024
    disk_bytes: int = 1024 * 1024 * 1024


@dataclass(frozen=True)
class ProvisionNotice:
    """Something the session must be told about how its sandbox was provisioned, which does not stop it: a
    ``session.error`` of ``error_type`` with ``retry_status: retrying`` (it may come again with a fresh sandbox)
    and the error's documented extra ``fields`` (e.g. ``credential_host_unreachable_error``: ``vault_id``,
    ``credential_id``). Never a secret: ids and names only."""

    error_type: str
    message: str
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Mount:
    """A host file or directory shown at ``target`` (absolute) inside the sandbox."""

    source: str
    target: str
    read_only: bool = True


@dataclass(frozen=True)
class Setup:
    """A shell command run (as the ``bash`` tool would) in each fresh sandbox before its first call.

    It must be idempotent: a sandbox on a kept workspace runs it again. When it fails, the session gets a
    ``session.error`` of ``error_type`` carrying ``fields`` (non-secret: e.g. ``repository_url``)."""

    label: str
    command: str
    error_type: str
    fields: tuple[tuple[str, str], ...] = ()
    timeout_seconds: float = 120.0

    def failed(self, output: str) -> ProvisionNotice:
        return ProvisionNotice(self.error_type, f"{self.label}: {output.strip()[-500:]}", self.fields)


@dataclass(frozen=True)
class ProvisionSpec:
    """The recipe for a session's sandbox: everything needed to build an identical fresh one."""

    session_id: str
    environment_id: str
    networking: JSONObject = field(default_factory=lambda: {"type": "unrestricted"})
    packages: JSONObject = field(default_factory=lambda: dict[str, Any]())
    #: host files and directories shown in the sandbox (the session's resources, ``corral.sandbox.attach``)
    mounts: tuple[Mount, ...] = ()
    #: idempotent shell steps run in each fresh sandbox before its first call (e.g. cloning a repository)
    setup: tuple[Setup, ...] = ()
    limits: Limits = field(default_factory=Limits)
    #: the session has used its workspace before: provisioning must find it, never start the session afresh
    #: (a provider that cannot reach the workspace raises ``SandboxError`` instead of provisioning an empty one)
    workspace_expected: bool = False
    #: sandboxes kept started for this environment so a new session's first call does not wait (0: none);
    #: from the environment config extension ``config.corral.warm_pool_size``
    warm_pool_size: int = 0
    #: the session's workspace (tenant): its sandboxes and disk are counted against its limits ("": none, e.g. a
    #: warm pool's sandbox before a session claims it)
    workspace_id: str = ""


@dataclass(frozen=True)
class ToolResult:
    """A tool's answer: content blocks (``text`` / ``image`` / ``document``) and whether it failed."""

    content: list[JSONObject]
    is_error: bool = False

    @classmethod
    def text(cls, text: str, *, is_error: bool = False) -> ToolResult:
        return cls([{"type": "text", "text": text}], is_error)

    @classmethod
    def error(cls, text: str) -> ToolResult:
        return cls.text(text, is_error=True)


class Sandbox(ABC):
    """One live execution environment of one session."""

    session_id: str
    #: what the session must be told about how this sandbox was provisioned (none by default)
    notices: tuple[ProvisionNotice, ...] = ()

    @property
    @abstractmethod
    def alive(self) -> bool: ...

    @abstractmethod
    async def execute(self, name: str, input: JSONObject, tool_use_id: str) -> ToolResult:
        """Run tool ``name`` with ``input``, exactly once per ``tool_use_id`` (see module docstring)."""

    @abstractmethod
    async def release(self) -> None:
        """Stop the sandbox; the session's workspace is kept for the next one."""


class SandboxProvider(ABC):
    """Makes sandboxes. Third-party providers register a factory in the ``corral.sandboxes`` entry-point group."""

    name: str

    @abstractmethod
    async def provision(self, spec: ProvisionSpec) -> Sandbox:
        """Build a fresh sandbox from the recipe. Raises ``SandboxError`` if it cannot."""

    async def recorded(self, session_id: str, tool_use_id: str) -> ToolResult | None:
        """The journalled result of ``tool_use_id`` in this session, without provisioning anything."""
        return None

    def follow_workspaces(self, store: WorkspaceStore) -> None:  # noqa: B027 - optional hook
        """Called once, before ``async with``: save sessions' workspaces to ``store`` and restore them from it, so a
        session's next sandbox on any host sees its workspace (``corral.sandbox.workspaces``). A provider that
        ignores it keeps workspaces where it keeps them (its own guarantee, e.g. one shared data directory)."""

    async def checkpoint(self, session_id: str) -> list[ProvisionNotice]:
        """The session's turn ended: save its workspace where its next sandbox, on any host, finds it (providers
        whose workspaces follow the session); what the session must be told about a failure. Never raises."""
        return []

    async def prepare(self, spec: ProvisionSpec) -> None:  # noqa: B027 - optional hook
        """Sessions like ``spec`` are coming (e.g. at start-up, per environment): warm up if the provider can."""

    def warm_ready(self, spec: ProvisionSpec) -> int:
        """How many started sandboxes wait for sessions like ``spec`` (a claim would be warm); no side effects."""
        return 0

    def mount_root(self) -> Path | None:
        """The host directory (it exists, and the sandboxes can reach it) under which the sources of directory
        ``Mount`` s must live; None: this provider mounts no host directories."""
        return None

    async def kept_sessions(self) -> list[str]:
        """The sessions whose state (workspace, journal) this provider keeps; ``forget`` drops one."""
        return []

    async def forget(self, session_id: str) -> None:  # noqa: B027 - optional hook, nothing kept by default
        """The session is deleted: drop its workspace and journal (stopping its sandbox first)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release every sandbox this provider still holds."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
