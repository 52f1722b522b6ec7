"""The remote provider against real ``corral sandbox-host`` processes on loopback (bubblewrap sandboxes): calls,
exactly once across a worker restart, racing workers, a host killed (``tests.hosts.conftest``: two hosts on one
database per engine)."""

from __future__ import annotations

from dataclasses import replace

import anyio
import httpx
import pytest

from corral.errors import SandboxError
from corral.hosts.remote import RemoteSandbox, RemoteSandboxProvider
from corral.sandbox import ProvisionSpec, Sandbox
from tests.hosts.conftest import bash, new_spec, remote, text_of
from tests.hosts.live_host import LiveSandboxHost

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]


async def test_execute_runs_bash_on_a_host(provider: RemoteSandboxProvider) -> None:
    sandbox = await provider.provision(await new_spec(provider))
    try:
        result = await bash(sandbox, "echo hello from $(pwd)")
        assert not result.is_error and text_of(result).strip() == "hello from /workspace"
        assert sandbox.alive
    finally:
        await sandbox.release()
    assert not sandbox.alive


async def test_a_call_runs_once_across_a_worker_restart(shared_url: str, hosts: list[LiveSandboxHost]) -> None:
    command = "echo ran >> /workspace/count; wc -l < /workspace/count"
    async with remote(shared_url) as first:
        spec = await new_spec(first)
        sandbox = await first.provision(spec)
        result = await bash(sandbox, command, "toolu_once")
        assert text_of(result).strip() == "1"
    async with remote(shared_url) as second:  # another worker takes the session over
        recorded = await second.recorded(spec.session_id, "toolu_once")
        assert recorded == result
        sandbox = await second.provision(spec)
        assert await bash(sandbox, command, "toolu_once") == result  # the journal answers; nothing runs
        assert text_of(await bash(sandbox, "wc -l < /workspace/count")).strip() == "1"
        await sandbox.release()


async def test_a_wrong_token_is_refused(shared_url: str, hosts: list[LiveSandboxHost]) -> None:
    async with remote(shared_url, token="not-the-token") as provider:
        with pytest.raises(SandboxError, match="refused this worker's token"):
            await provider.provision(await new_spec(provider))
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.post(f"{hosts[0].url}/v1/provision", json={}, headers={"authorization": "Bearer x"})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


async def test_racing_workers_place_one_session_once(shared_url: str, hosts: list[LiveSandboxHost]) -> None:
    got: list[Sandbox] = []

    async def provision(worker: RemoteSandboxProvider, spec: ProvisionSpec) -> None:
        got.append(await worker.provision(spec))

    async with remote(shared_url) as one, remote(shared_url) as other:
        spec = await new_spec(one)
        async with anyio.create_task_group() as tasks:
            for worker in (one, other):
                tasks.start_soon(provision, worker, spec)
        placed = [sandbox for sandbox in got if isinstance(sandbox, RemoteSandbox)]
        assert len(placed) == 2
        assert len({sandbox.host.host_id for sandbox in placed}) == 1
        assert len({sandbox.sandbox_id for sandbox in placed}) == 1  # the host's one live sandbox of the session


async def test_a_call_that_cannot_reach_a_dead_host_runs_once_on_a_fresh_sandbox_elsewhere(
    provider: RemoteSandboxProvider, hosts: list[LiveSandboxHost]
) -> None:
    spec = await new_spec(provider)
    sandbox = await provider.provision(spec)
    assert isinstance(sandbox, RemoteSandbox)
    victim = next(host for host in hosts if host.host_id == sandbox.host.host_id)
    victim.kill()
    try:
        result = await bash(sandbox, "echo moved >> /workspace/runs; cat /workspace/runs")
        assert text_of(result).strip() == "moved" and sandbox.alive  # the connection failed: it never ran there
        assert sandbox.host.host_id != victim.host_id
        assert text_of(await bash(sandbox, "echo again")).strip() == "again"
        await sandbox.release()
    finally:
        victim.start()  # the same data dir: the same host id, back in the directory


async def test_a_session_with_a_workspace_waits_for_its_host_and_is_never_moved(
    provider: RemoteSandboxProvider, hosts: list[LiveSandboxHost]
) -> None:
    first = await new_spec(provider)
    sandbox = await provider.provision(first)
    assert isinstance(sandbox, RemoteSandbox)
    assert not (await bash(sandbox, "echo kept > /workspace/state")).is_error
    home = next(host for host in hosts if host.host_id == sandbox.host.host_id)
    spec = replace(first, workspace_expected=True)  # the session's log shows it used its workspace
    home.stop()  # a clean stop: its lease is given up
    try:
        with pytest.raises(SandboxError, match=f"workspace is on sandbox host {home.host_id}, which is not running"):
            await provider.provision(spec)
        placement = await provider.directory.placement(spec.session_id)
        assert placement is not None and placement.host.host_id == home.host_id  # not moved
    finally:
        home.start()  # the same data dir: the same id, its workspaces kept
    back = await provider.provision(spec)
    assert text_of(await bash(back, "cat /workspace/state")).strip() == "kept"
    await back.release()
