"""Warm pools are filled for the environments that ask for one, before any session exists (and after a
restart): ``corral.compose.upkeep.keep_pools_warm`` over the catalog and the real local provider."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from corral.catalog import keys
from corral.catalog.params import EnvironmentCreate
from corral.compose.bootstrap import make_catalog
from corral.compose.upkeep import keep_pools_warm
from corral.config import Settings
from corral.db.engines import open_database
from corral.sandbox.local import LocalSandboxProvider
from corral.sandbox.recipe import environment_spec

from .conftest import wait_until

pytestmark = pytest.mark.anyio


def cloud(**corral: object) -> dict[str, object]:
    return {"type": "cloud", "networking": {"type": "unrestricted"}, **({"corral": corral} if corral else {})}


def environment(name: str, config: dict[str, object]) -> EnvironmentCreate:
    return EnvironmentCreate.model_validate({"name": name, "config": config})


async def test_pools_are_filled_for_environments_that_ask(provider: LocalSandboxProvider, tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'corral.db'}")
    await db.open()
    try:
        catalog = make_catalog(db, Settings(data_dir=tmp_path))
        await catalog.ensure_default_workspace()
        workspace = keys.DEFAULT_WORKSPACE_ID
        pooled = await catalog.create_environment(workspace, environment("pooled", cloud(warm_pool_size=2)))
        plain = await catalog.create_environment(workspace, environment("plain", cloud()))
        gone = await catalog.create_environment(workspace, environment("gone", cloud(warm_pool_size=1)))
        await catalog.archive_environment(workspace, gone.id)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(keep_pools_warm, catalog, provider, 0.2)
            spec = environment_spec(pooled.id, pooled.config)
            await wait_until(lambda: provider.warm_ready(spec) == 2, 60)
            # a session of that environment (its hands build the same recipe) gets a pooled sandbox at once
            claimed = await provider.provision(environment_spec(pooled.id, pooled.config, "sesn_pooled0001"))
            try:
                await wait_until(lambda: provider.warm_ready(spec) == 2, 60)  # and the pool is topped up
            finally:
                await claimed.release()
            assert provider.warm_ready(environment_spec(plain.id, plain.config)) == 0
            assert provider.warm_ready(environment_spec(gone.id, gone.config)) == 0
            tasks.cancel_scope.cancel()
    finally:
        await db.close()
