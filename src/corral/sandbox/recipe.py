"""A session's sandbox recipe, read from its environment's config: what ``provision(spec)`` builds, and when.

What the sandbox side needs from an environment: its ``type`` (a ``self_hosted`` environment runs the built-in
sandbox tools in the customer's worker, so corral builds no sandbox for it), ``networking`` and ``packages``
(the recipe) and the ``corral`` extension (``provisioning`` mode, ``warm_pool_size``).

Invariants:

* ``environment_spec`` is the one builder of a ``ProvisionSpec`` from an environment config: sessions and warm
  pools get the same recipe, so a pooled sandbox is interchangeable with a fresh one.
* Configs are read through the composition root's ``EnvironmentSource`` at most once per ``ttl`` seconds per
  environment and process (a session's first model request costs no catalog read); an environment that is
  gone reads as the default (unrestricted cloud), so its sessions keep working.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import cast

import anyio

from corral._types import JSONObject
from corral.sandbox.base import ProvisionSpec
from corral.vocab.options import PROVISIONING_MODES, ProvisioningMode

EnvironmentSource = Callable[[str, str], Awaitable[JSONObject | None]]
"""``(workspace_id, environment_id)`` → the environment's resolved ``config``, or None when it is gone."""

DEFAULT_CONFIG: JSONObject = {"type": "cloud", "networking": {"type": "unrestricted"}}


async def no_environments(workspace_id: str, environment_id: str) -> JSONObject | None:
    return None


class Environments:
    """Environment configs, cached per process."""

    def __init__(self, source: EnvironmentSource = no_environments, *, ttl: float = 60.0):
        self._source = source
        self._ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, JSONObject]] = {}

    async def config(self, workspace_id: str, environment_id: str) -> JSONObject:
        key = (workspace_id, environment_id)
        now = anyio.current_time()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        config = await self._source(workspace_id, environment_id) or dict(DEFAULT_CONFIG)
        self._cache[key] = (now, config)
        return config


def extension(config: Mapping[str, object]) -> JSONObject:
    """The ``corral`` extension of an environment config (``provisioning``, ``warm_pool_size``), or {}."""
    found = config.get("corral")
    return dict(cast(JSONObject, found)) if isinstance(found, dict) else {}


def self_hosted(config: Mapping[str, object]) -> bool:
    """Built-in tools of a ``self_hosted`` environment are run by the customer's worker (``user.tool_result``)."""
    return config.get("type") == "self_hosted"


def provisioning_mode(config: Mapping[str, object], default: ProvisioningMode) -> ProvisioningMode:
    mode = extension(config).get("provisioning")
    for known in PROVISIONING_MODES:
        if mode == known:
            return known
    return default


def environment_spec(
    environment_id: str,
    config: Mapping[str, object],
    session_id: str = "",
    *,
    workspace_id: str = "",
    workspace_expected: bool = False,
) -> ProvisionSpec:
    """The recipe of an environment's sandboxes (for a session of ``workspace_id``, or with no session: a warm
    pool's)."""
    networking = config.get("networking") or DEFAULT_CONFIG["networking"]
    return ProvisionSpec(
        session_id=session_id,
        environment_id=environment_id,
        workspace_id=workspace_id,
        networking=dict(cast(JSONObject, networking)),
        packages=dict(cast(JSONObject, config.get("packages") or {})),
        warm_pool_size=int(extension(config).get("warm_pool_size") or 0),
        workspace_expected=workspace_expected,
    )
