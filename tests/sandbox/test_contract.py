"""The ``SandboxProvider`` contract, run against every provider installed in the ``corral.sandboxes`` group.

Any provider must: run tools in a sandbox that reports ``alive``; answer failures as error results, never
exceptions; execute each ``tool_use_id`` at most once (a repeat returns the recorded result, an interrupted
call is answered ``interrupted`` and not run again), with the journal readable without a sandbox
(``recorded``); and keep the session's workspace across sandboxes.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest

from corral._types import JSONObject
from corral.config import Settings
from corral.sandbox import SandboxProvider
from corral.sandbox.registry import create_provider, provider_factory, provider_names
from tests.hosts.live_host import LiveSandboxHost
from tests.sandbox.conftest import new_spec, text_of, wait_for

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def sandbox_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSandboxHost]:
    """For the ``remote`` provider: a real ``corral sandbox-host`` on a database of its own."""
    tmp = tmp_path_factory.mktemp("contract-host")
    host = LiveSandboxHost(f"sqlite:///{tmp / 'corral.db'}", tmp / "host", "contract-" + secrets.token_hex(8))
    host.start()
    try:
        yield host
    finally:
        host.stop()


@pytest.fixture(scope="module", params=provider_names())
async def any_provider(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SandboxProvider]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("contract"), egress_enabled=False)
    if request.param == "remote":  # the workers' provider, over a sandbox host
        host: LiveSandboxHost = request.getfixturevalue("sandbox_host")
        settings = settings.with_overrides(database_url=host.db_url, sandbox_host_token=host.token)
    async with provider_factory(request.param)(settings, None) as started:
        yield started


def test_the_local_provider_is_registered_and_built_from_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    assert "local" in provider_names()
    provider = create_provider(Settings(data_dir=tmp_path_factory.mktemp("registry"), sandbox_provider="local"))
    assert provider.name == "local"


async def test_a_provisioned_sandbox_is_alive_and_runs_tools(any_provider: SandboxProvider) -> None:
    sandbox = await any_provider.provision(new_spec())
    try:
        assert sandbox.alive
        result = await sandbox.execute("bash", {"command": "echo hi"}, "toolu_alive")
        assert (result.is_error, text_of(result)) == (False, "hi")
    finally:
        await sandbox.release()
    assert not sandbox.alive


async def test_a_repeated_tool_use_id_returns_the_recorded_result_and_runs_once(any_provider: SandboxProvider) -> None:
    spec = new_spec()
    sandbox = await any_provider.provision(spec)
    command = {"command": "echo ran >> /workspace/count; wc -l < /workspace/count"}
    try:
        first = await sandbox.execute("bash", command, "toolu_once")
        again = await sandbox.execute("bash", command, "toolu_once")
        assert first == again and text_of(first) == "1"
        assert await any_provider.recorded(spec.session_id, "toolu_once") == first
        assert await any_provider.recorded(spec.session_id, "toolu_never") is None
        count = await sandbox.execute("bash", {"command": "wc -l < /workspace/count"}, "toolu_count")
        assert text_of(count) == "1"
    finally:
        await sandbox.release()


async def test_the_journal_survives_the_sandbox(any_provider: SandboxProvider) -> None:
    spec = new_spec()
    sandbox = await any_provider.provision(spec)
    first = await sandbox.execute("write", {"file_path": "a.txt", "content": "x"}, "toolu_j1")
    await sandbox.release()
    fresh = await any_provider.provision(spec)
    try:
        assert await fresh.execute("write", {"file_path": "a.txt", "content": "changed"}, "toolu_j1") == first
        assert text_of(await fresh.execute("read", {"file_path": "a.txt"}, "toolu_j2")) == "x"
    finally:
        await fresh.release()


async def test_a_call_interrupted_mid_flight_is_answered_interrupted_and_not_run_again(
    any_provider: SandboxProvider,
) -> None:
    spec = new_spec()
    sandbox = await any_provider.provision(spec)
    command = {"command": "echo started >> /workspace/runs; until [ -e /workspace/release ]; do sleep 0.05; done"}
    probes = itertools.count()

    async def running() -> bool:
        probe = await sandbox.execute("read", {"file_path": "runs"}, f"toolu_probe{next(probes)}")
        return text_of(probe) == "started\n"

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(sandbox.execute, "bash", command, "toolu_cut")
            await wait_for(running)
            tasks.cancel_scope.cancel()  # the harness dies mid-call
        recorded = await any_provider.recorded(spec.session_id, "toolu_cut")
        assert recorded is not None and recorded.is_error
        assert text_of(recorded).startswith("bash: interrupted: this call started but never finished")
        assert await sandbox.execute("bash", command, "toolu_cut") == recorded
        await sandbox.execute("write", {"file_path": "release", "content": ""}, "toolu_release")
        runs = await sandbox.execute("bash", {"command": "cat /workspace/runs"}, "toolu_runs")
        assert text_of(runs) == "started"
    finally:
        await sandbox.release()


async def test_a_released_sandbox_leaves_the_workspace_for_the_next(any_provider: SandboxProvider) -> None:
    spec = new_spec()
    sandbox = await any_provider.provision(spec)
    await sandbox.execute("write", {"file_path": "keep/me.txt", "content": "kept"}, "toolu_w")
    await sandbox.release()
    fresh = await any_provider.provision(spec)
    try:
        assert fresh is not sandbox and fresh.alive
        assert text_of(await fresh.execute("read", {"file_path": "keep/me.txt"}, "toolu_r")) == "kept"
    finally:
        await fresh.release()


async def test_failures_are_error_results_never_exceptions(any_provider: SandboxProvider) -> None:
    sandbox = await any_provider.provision(new_spec())
    try:
        calls: list[tuple[str, JSONObject]] = [
            ("nope", {}),
            ("read", {"file_path": 3}),
            ("bash", {}),
            ("read", {"file_path": "missing"}),
        ]
        for index, (name, tool_input) in enumerate(calls):
            result = await sandbox.execute(name, tool_input, f"toolu_f{index}")
            assert result.is_error and text_of(result).startswith(f"{name}: ")
        await sandbox.release()
        after = await sandbox.execute("bash", {"command": "true"}, "toolu_after_release")
        assert after.is_error and "bash: sandbox: the sandbox was stopped (it was released)" in text_of(after)
    finally:
        await sandbox.release()
