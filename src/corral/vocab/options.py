"""Small enumerations shared by the API edge, the catalog and the runtime (each literal defined once)."""

from __future__ import annotations

from typing import Final, Literal, get_args

EffortLevel = Literal["low", "medium", "high", "xhigh", "max"]
EFFORT_LEVELS: Final[tuple[EffortLevel, ...]] = get_args(EffortLevel)
DEFAULT_EFFORT: Final[EffortLevel] = "high"

Speed = Literal["standard", "fast"]
SPEEDS: Final[tuple[Speed, ...]] = get_args(Speed)
DEFAULT_SPEED: Final[Speed] = "standard"

ProvisioningMode = Literal["lazy", "speculative", "eager"]
"""When a session's sandbox is started: inside the first sandbox tool call (``lazy``), as soon as the model's
stream shows a sandbox tool call starting (``speculative``), or when a turn of an agent with sandbox tools
starts (``eager``)."""
PROVISIONING_MODES: Final[tuple[ProvisioningMode, ...]] = get_args(ProvisioningMode)

PackageManager = Literal["apt", "cargo", "gem", "go", "npm", "pip"]
"""The package managers an environment's ``packages`` may list specifiers for, in the resolved form's order."""
PACKAGE_MANAGERS: Final[tuple[PackageManager, ...]] = get_args(PackageManager)

SqliteSynchronous = Literal["NORMAL", "FULL"]
SQLITE_SYNCHRONOUS: Final[tuple[SqliteSynchronous, ...]] = get_args(SqliteSynchronous)

SESSION_SKILLS: Final = "skill_versions"
"""The session doc's key holding the skill versions a session is pinned to (``corral.resources.skills``; read by the
harness for the system prompt). Internal: the wire never shows it."""
SKILLS_DIR: Final = "/workspace/skills"
"""Where a session's skills are in its sandbox: ``<SKILLS_DIR>/<name>/SKILL.md`` (as the hosted runtime places them)."""


WorkspaceSnapshots = Literal["auto", "on", "off"]
"""Whether sessions' workspaces are snapshotted to the blob store to follow them to other machines: ``auto`` does
when the blob store is shared between machines (an S3-protocol store), not with blobs in the local data dir."""

LogFormat = Literal["auto", "json", "text"]
"""How log lines are written: ``auto`` is ``text`` on a terminal and ``json`` otherwise."""

ThreadStatus = Literal["running", "idle", "rescheduling", "terminated"]
"""A session thread's ``status`` (also a session's), the values ``statuses[]`` of a threads listing takes."""
