"""Sandbox hosts that misbehave, against real ``corral sandbox-host`` processes: a token rotated away from a worker,
a host that stalls, a host that claims room it does not have; and the warm sandboxes a host reports."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest

from corral.catalog import keys
from corral.catalog.params import EnvironmentCreate
from corral.compose.bootstrap import make_catalog
from corral.compose.hosts import warm_sandboxes
from corral.compose.upkeep import keep_pools_warm
from corral.config import Settings
from corral.db.engines import open_database
from corral.errors import ErrorCode, SandboxError
from corral.hosts.directory import HostReport
from corral.hosts.remote import RemoteSandbox
from corral.hosts.server import SandboxHost
from corral.hosts.wire import ExecuteRequest
from corral.sandbox import Limits, ProvisionSpec, Sandbox
from corral.sandbox.recipe import environment_spec
from tests.hosts.conftest import TOKEN, bash, new_spec, remote, text_of
from tests.hosts.live_host import LiveSandboxHost
from tests.sandbox.conftest import open_provider, wait_for, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]


def placed(sandbox: Sandbox) -> RemoteSandbox:
    assert isinstance(sandbox, RemoteSandbox)
    return sandbox


async def test_a_token_rotated_away_is_a_clear_error_never_a_hang(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'rotation.db'}"
    host = LiveSandboxHost(db_url, tmp_path / "host", "tok-new,tok-old")  # mid-rotation: both accepted
    host.start()
    try:
        async with remote(db_url, "tok-old", timeout=30) as old, remote(db_url, "tok-new", timeout=30) as new:
            held = await old.provision(await new_spec(old))
            assert text_of(await bash(held, "echo old")).strip() == "old"
            fresh = await new.provision(await new_spec(new))
            assert text_of(await bash(fresh, "echo new")).strip() == "new"
            host.stop()
            host.token = "tok-new"  # the rotation is over: the old token is dropped
            host.start()
            refused = await bash(held, "echo again")
            assert refused.is_error and "refused this worker's token" in text_of(refused) and not held.alive
            with pytest.raises(SandboxError, match="refused this worker's token"):
                await old.provision(await new_spec(old))
            # the restarted host lost its sandboxes, not this token: the call goes to a fresh sandbox
            assert text_of(await bash(fresh, "echo again")).strip() == "again" and fresh.alive
            again = await new.provision(await new_spec(new))
            assert text_of(await bash(again, "echo new")).strip() == "new"
            await again.release()
    finally:
        host.stop()


async def test_a_sandbox_stopped_on_its_host_when_idle_is_replaced_without_an_error(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'idle.db'}"
    host = LiveSandboxHost(db_url, tmp_path / "host", TOKEN, env={"CORRAL_SANDBOX_IDLE_SECONDS": "0.5"})
    host.start()
    try:
        async with remote(db_url) as worker, httpx.AsyncClient(trust_env=False) as http:
            sandbox = placed(await worker.provision(await new_spec(worker)))
            assert not (await bash(sandbox, "echo kept > /workspace/state")).is_error
            first = sandbox.sandbox_id

            async def stopped() -> bool:  # the host counts live sandboxes only
                return (await http.get(f"{host.url}/healthz")).json()["in_use"] == 0

            await wait_for(stopped, 60)
            assert text_of(await bash(sandbox, "cat /workspace/state")).strip() == "kept"  # nothing failed
            assert sandbox.alive and sandbox.sandbox_id != first
            await sandbox.release()
    finally:
        host.stop()


async def test_a_host_refuses_a_workspace_past_its_sandbox_limit_until_one_stops(tmp_path: Path) -> None:
    async def workspace_of(session_id: str) -> str | None:  # as the database answers it: both are one workspace's
        return "wrkspc_limited"

    async with open_provider(tmp_path / "sandbox") as provider:  # it sets no limit of its own: the host's is met
        host = SandboxHost(provider, capacity=8, workspace_of=workspace_of, max_per_workspace=1)
        first = await host.provision(ProvisionSpec("sesn_limited1", "env_test"))
        second = ProvisionSpec("sesn_limited2", "env_test")
        with pytest.raises(SandboxError, match="workspace wrkspc_limited already runs 1 sandbox") as refused:
            await host.provision(second)
        assert (refused.value.status, refused.value.code) == (429, ErrorCode.QUOTA_EXCEEDED)  # not 503: no other host
        await host.release(first.sandbox_id)
        provisioned = await host.provision(second)
        executed = await host.execute(
            provisioned.sandbox_id,
            ExecuteRequest(name="bash", input={"command": "echo ok"}, tool_use_id="toolu_limited"),
        )
        assert text_of(executed.result).strip() == "ok"
        await host.aclose()


async def test_a_host_that_stalls_is_a_tool_error_then_a_fresh_sandbox_elsewhere(
    shared_url: str, hosts: list[LiveSandboxHost]
) -> None:
    async with remote(shared_url, timeout=1.0, grace=0.5) as worker:
        spec = await new_spec(worker, Limits(wall_seconds=1.0))
        sandbox = placed(await worker.provision(spec))
        stalled = next(host for host in hosts if host.host_id == sandbox.host.host_id)
        with stalled.paused():
            # bounded by the call's wall-clock limit and the grace, whatever the host does
            result = await bash(sandbox, "echo never", "toolu_stalled")
            assert result.is_error and "ReadTimeout" in text_of(result) and not sandbox.alive
            assert await worker.recorded(spec.session_id, "toolu_stalled") is None  # bounded too: nothing known
            fresh = placed(await worker.provision(spec))
            assert fresh.host.host_id != stalled.host_id
            assert text_of(await bash(fresh, "echo elsewhere")).strip() == "elsewhere"
            await fresh.release()


async def test_a_host_that_claims_room_it_lacks_is_passed_over(
    shared_url: str, hosts: list[LiveSandboxHost], tmp_path: Path
) -> None:
    # a host of one sandbox, whose lease (and so its figures) is not renewed during the test
    env = {"CORRAL_SANDBOX_HOST_CAPACITY": "1", "CORRAL_LEASE_TTL": "600"}
    liar = LiveSandboxHost(shared_url, tmp_path / "liar", TOKEN, env=env)
    liar.start()
    try:
        async with remote(shared_url) as worker:
            lie = HostReport(liar.host_id, liar.url, capacity=1000, in_use=0, warm=1000)  # placement's favourite
            await worker.directory.report(lie, 600)
            first = placed(await worker.provision(await new_spec(worker)))
            assert first.host.host_id == liar.host_id
            await worker.directory.report(lie, 600)  # it claims room still
            second = placed(await worker.provision(await new_spec(worker)))
            assert second.host.host_id != liar.host_id  # it refused (503), the worker moved on
            assert text_of(await bash(second, "echo placed")).strip() == "placed"
            await first.release()
            await second.release()
    finally:
        liar.stop()


async def test_a_host_reports_its_warm_sandboxes(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'corral.db'}")
    await db.open()
    try:
        catalog = make_catalog(db, Settings(data_dir=tmp_path))
        await catalog.ensure_default_workspace()
        config = {"type": "cloud", "networking": {"type": "unrestricted"}, "corral": {"warm_pool_size": 1}}
        new = EnvironmentCreate.model_validate({"name": "pooled", "config": config})
        pooled = await catalog.create_environment(keys.DEFAULT_WORKSPACE_ID, new)
        async with open_provider(tmp_path / "sandbox") as provider, anyio.create_task_group() as tasks:
            assert await warm_sandboxes(catalog, provider) == 0
            tasks.start_soon(keep_pools_warm, catalog, provider, 0.2)
            await wait_until(lambda: provider.warm_ready(environment_spec(pooled.id, pooled.config)) == 1, 60)
            assert await warm_sandboxes(catalog, provider) == 1
            tasks.cancel_scope.cancel()
    finally:
        await db.close()
