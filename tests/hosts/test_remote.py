"""The remote provider against real ``corral sandbox-host`` processes on loopback (bubblewrap sandboxes): calls,
exactly once across a worker restart, racing workers, a host killed (``tests.hosts.conftest``: two hosts on one
database per engine)."""

from __future__ import annotations

import anyio
import httpx
import pytest

from corral.errors import SandboxError
from corral.hosts.remote import RemoteSandbox, RemoteSandboxProvider
from corral.sandbox import Sandbox
from tests.hosts.conftest import bash, new_spec, remote, text_of
from tests.hosts.live_host import LiveSandboxHost

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]


async def test_execute_runs_bash_on_a_host(provider: RemoteSandboxProvider) -> None:
    sandbox = await provider.provision(new_spec())
    try:
        result = await bash(sandbox, "echo hello from $(pwd)")
        assert not result.is_error and text_of(result).strip() == "hello from /workspace"
        assert sandbox.alive
    finally:
        await sandbox.release()
    assert not sandbox.alive


async def test_a_call_runs_once_across_a_worker_restart(shared_url: str, hosts: list[LiveSandboxHost]) -> None:
    spec = new_spec()
    command = "echo ran >> /workspace/count; wc -l < /workspace/count"
    async with remote(shared_url) as first:
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
            await provider.provision(new_spec())
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.post(f"{hosts[0].url}/v1/provision", json={}, headers={"authorization": "Bearer x"})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


async def test_racing_workers_place_one_session_once(shared_url: str, hosts: list[LiveSandboxHost]) -> None:
    spec = new_spec()
    got: list[Sandbox] = []

    async def provision(worker: RemoteSandboxProvider) -> None:
        got.append(await worker.provision(spec))

    async with remote(shared_url) as one, remote(shared_url) as other:
        async with anyio.create_task_group() as tasks:
            for worker in (one, other):
                tasks.start_soon(provision, worker)
        placed = [sandbox for sandbox in got if isinstance(sandbox, RemoteSandbox)]
        assert len(placed) == 2
        assert len({sandbox.host.host_id for sandbox in placed}) == 1
        assert len({sandbox.sandbox_id for sandbox in placed}) == 1  # the host's one live sandbox of the session


async def test_a_dead_host_is_a_tool_error_then_a_fresh_sandbox_elsewhere(
    provider: RemoteSandboxProvider, hosts: list[LiveSandboxHost]
) -> None:
    spec = new_spec()
    sandbox = await provider.provision(spec)
    assert isinstance(sandbox, RemoteSandbox)
    victim = next(host for host in hosts if host.host_id == sandbox.host.host_id)
    victim.kill()
    try:
        result = await bash(sandbox, "echo never")
        assert result.is_error and "failed" in text_of(result) and not sandbox.alive
        fresh = await provider.provision(spec)
        assert isinstance(fresh, RemoteSandbox) and fresh.host.host_id != victim.host_id
        assert text_of(await bash(fresh, "echo again")).strip() == "again"
        await fresh.release()
    finally:
        victim.start()  # the same data dir: the same host id, back in the directory
