"""Environment configs as the harness reads them: through the composition root's ``EnvironmentSource``, cached.

The harness knows no catalog. What it needs from a session's environment: its ``type`` (``self_hosted``
environments run built-in tools in the customer's worker, not here), ``networking`` and ``packages`` (the
sandbox recipe) and the ``corral`` extension (``provisioning`` mode, ``warm_pool_size``).

Invariants: a config is read at most once per ``ttl`` seconds per environment and worker (the cache keeps a
session's first model request free of catalog reads); an environment that is gone reads as the default
(unrestricted cloud), so its sessions keep working.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from corral._types import JSONObject

EnvironmentSource = Callable[[str, str], Awaitable[JSONObject | None]]
"""``(workspace_id, environment_id)`` → the environment's resolved ``config`` (networking, packages, the ``corral``
extension), or None when it is gone (the default recipe applies)."""

DEFAULT_CONFIG: JSONObject = {"type": "cloud", "networking": {"type": "unrestricted"}}


async def no_environments(workspace_id: str, environment_id: str) -> JSONObject | None:
    return None


class Environments:
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


def extension(config: JSONObject) -> JSONObject:
    """The ``corral`` extension of an environment config (``provisioning``, ``warm_pool_size``), or {}."""
    found: Any = config.get("corral") or {}
    return dict(found) if isinstance(found, dict) else {}


def self_hosted(config: JSONObject) -> bool:
    """Built-in tools of a ``self_hosted`` environment are run by the customer's worker (``user.tool_result``)."""
    return config.get("type") == "self_hosted"
