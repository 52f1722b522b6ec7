"""The kinds of extension an agent may select (``corral.extend``), their entry-point groups, and what is installed.

An extension package declares, in its ``pyproject.toml``, ``[project.entry-points."<group>"] <name> =
"module:factory"``; an agent selects it by ``<name>`` in its ``corral.extensions`` field. ``default`` names the
implementation corral itself uses for the kinds that have one; it is always available and cannot be replaced.

Invariant: the installed names are read once per process (at import: package metadata is read from disk, which
must not happen on an event loop), so a package installed later is seen after a restart, like sandbox providers.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Final, Literal, get_args

ExtensionKind = Literal["context_strategy", "compaction_policy", "model_router", "tools", "observers"]
EXTENSION_KINDS: Final[tuple[ExtensionKind, ...]] = get_args(ExtensionKind)

GROUPS: Final[Mapping[ExtensionKind, str]] = {
    "context_strategy": "corral.context_strategies",
    "compaction_policy": "corral.compaction_policies",
    "model_router": "corral.model_routers",
    "tools": "corral.server_tools",
    "observers": "corral.turn_observers",
}
#: what each kind is called in messages (a ``session.error`` naming a failed extension, a 400)
TITLES: Final[Mapping[ExtensionKind, str]] = {
    "context_strategy": "context strategy",
    "compaction_policy": "compaction policy",
    "model_router": "model router",
    "tools": "server-side tool",
    "observers": "turn observer",
}
DEFAULT: Final = "default"
#: the kinds with a built-in ``default`` (the others default to none selected)
WITH_DEFAULT: Final[frozenset[ExtensionKind]] = frozenset({"context_strategy", "compaction_policy", "model_router"})


@cache
def _installed() -> Mapping[ExtensionKind, Mapping[str, EntryPoint]]:
    found = entry_points()  # one pass over the installed packages' metadata, for every kind
    return {kind: {ep.name: ep for ep in found.select(group=GROUPS[kind])} for kind in EXTENSION_KINDS}


def entry_points_of(kind: ExtensionKind) -> Mapping[str, EntryPoint]:
    """The installed entry points of ``kind``, by name (read once per process, at import)."""
    return _installed()[kind]


def installed(kind: ExtensionKind) -> frozenset[str]:
    """The names an agent may select for ``kind`` (``default`` included where the kind has one)."""
    names = frozenset(entry_points_of(kind))
    return names | {DEFAULT} if kind in WITH_DEFAULT else names


_installed()  # read now, at import, rather than on the first request's event loop
