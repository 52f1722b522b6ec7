"""Sandbox providers by name, from the ``corral.sandboxes`` entry-point group.

A provider package declares ``[project.entry-points."corral.sandboxes"] name = "module:Factory"`` where
``Factory(settings, egress)`` returns a ``SandboxProvider`` (``egress`` is an ``EgressGateway`` or None, in
which case its sandboxes get no network). corral's own ``local`` provider is registered the same way.

Invariant: only composition roots call ``create_provider``; everything else sees ``SandboxProvider``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

from corral.config import Settings
from corral.errors import ErrorCode, InvalidRequest
from corral.sandbox.base import SandboxProvider
from corral.sandbox.network import EgressGateway

GROUP = "corral.sandboxes"
ProviderFactory = Callable[[Settings, EgressGateway | None], SandboxProvider]


def provider_names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=GROUP))


def provider_factory(name: str) -> ProviderFactory:
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        known = ", ".join(provider_names()) or "none"
        raise InvalidRequest(f"unknown sandbox provider {name!r} (installed: {known})", code=ErrorCode.INVALID_REQUEST)
    factory: ProviderFactory = found[0].load()
    return factory


def create_provider(settings: Settings, egress: EgressGateway | None = None) -> SandboxProvider:
    """The provider named by ``settings.sandbox_provider``."""
    return provider_factory(settings.sandbox_provider)(settings, egress)
