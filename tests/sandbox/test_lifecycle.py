"""Sandboxes as cattle: death mid-call is an error result, the next sandbox has the same workspace; idle
reclaim; warm pools; a worker killed mid-call (real process, SIGKILL) leaves an ``interrupted`` journal entry."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from corral.sandbox.local import LocalSandboxProvider
from corral.sandbox.local.sandbox import LocalSandbox
from corral.sandbox.runtime import runtime_dir
from tests.sandbox.conftest import Runner, new_spec, open_provider, text_of, wait_until

pytestmark = pytest.mark.anyio
FRESH = "the next call starts a fresh sandbox with the same /workspace"


async def test_a_sandbox_killed_mid_call_is_an_error_and_the_next_one_keeps_the_workspace(
    provider: LocalSandboxProvider,
) -> None:
    spec = new_spec()
    sandbox = await provider.provision(spec)
    await Runner(sandbox).ok("write", file_path="work.txt", content="survives")
    result = await sandbox.execute("bash", {"command": "kill -9 $PPID; sleep 5"}, "toolu_die")
    assert result.is_error and "the sandbox stopped unexpectedly" in text_of(result) and FRESH in text_of(result)
    assert not sandbox.alive
    fresh = await provider.provision(spec)
    assert fresh is not sandbox and fresh.alive
    try:
        assert await Runner(fresh).ok("read", file_path="work.txt") == "survives"
        assert await fresh.execute("bash", {"command": "true"}, "toolu_die") == result
    finally:
        await fresh.release()


async def test_a_sandbox_killed_from_outside_fails_the_running_call(provider: LocalSandboxProvider) -> None:
    spec = new_spec()
    sandbox = await provider.provision(spec)
    assert isinstance(sandbox, LocalSandbox)
    outcome: list[str] = []

    async def call() -> None:
        result = await sandbox.execute("bash", {"command": "touch running; sleep 10"}, "toolu_long")
        outcome.append(text_of(result))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(call)
        await wait_until(provider.workspace_path(spec.session_id).joinpath("running").exists)
        os.kill(sandbox.parts.process.pid, signal.SIGKILL)
    assert "the sandbox stopped unexpectedly (exit status -9)" in outcome[0]
    assert not sandbox.alive


async def test_provisioning_a_live_session_again_returns_its_sandbox(provider: LocalSandboxProvider) -> None:
    spec = new_spec()
    sandbox = await provider.provision(spec)
    try:
        assert await provider.provision(spec) is sandbox
    finally:
        await sandbox.release()


async def test_each_session_has_its_own_unprivileged_host_uid(provider: LocalSandboxProvider) -> None:
    owners: list[int] = []
    for _ in range(2):
        spec = new_spec()
        sandbox = await provider.provision(spec)
        await Runner(sandbox).ok("write", file_path="mine.txt", content="x")
        await sandbox.release()
        owners.append(provider.workspace_path(spec.session_id).joinpath("mine.txt").stat().st_uid)
    assert owners[0] != owners[1] and min(owners) >= 1_000_000


async def test_two_instances_on_one_host_never_share_a_sandbox_uid(
    provider: LocalSandboxProvider, tmp_path: Path
) -> None:
    owners: list[int] = []
    async with open_provider(tmp_path) as other:
        for instance in (provider, other, provider, other):
            spec = new_spec()
            sandbox = await instance.provision(spec)
            await Runner(sandbox).ok("write", file_path="mine.txt", content="x")
            await sandbox.release()
            owners.append(instance.workspace_path(spec.session_id).joinpath("mine.txt").stat().st_uid)
    assert len(set(owners)) == 4, owners


async def test_forget_removes_the_workspace_and_journal(provider: LocalSandboxProvider) -> None:
    spec = new_spec()
    sandbox = await provider.provision(spec)
    await Runner(sandbox).ok("write", file_path="gone.txt", content="x")
    await sandbox.execute("bash", {"command": "true"}, "toolu_forgotten")
    await provider.forget(spec.session_id)
    assert not sandbox.alive
    assert not provider.workspace_path(spec.session_id).exists()
    assert await provider.recorded(spec.session_id, "toolu_forgotten") is None


async def test_idle_sandboxes_are_reclaimed_and_the_workspace_stays(tmp_path: Path) -> None:
    async with open_provider(tmp_path, idle_seconds=0.4) as provider:
        spec = new_spec()
        sandbox = await provider.provision(spec)
        await Runner(sandbox).ok("write", file_path="idle.txt", content="still here")
        await wait_until(lambda: not sandbox.alive, 10)
        stopped = await sandbox.execute("bash", {"command": "true"}, "toolu_idle")
        assert "the sandbox was stopped (it was idle for more than 0.4 s)" in text_of(stopped)
        fresh = await provider.provision(spec)
        assert await Runner(fresh).ok("read", file_path="idle.txt") == "still here"
        await fresh.release()


async def test_a_warm_pool_hands_started_sandboxes_to_new_sessions(provider: LocalSandboxProvider) -> None:
    first = await provider.provision(new_spec(environment_id="env_warm", warm_pool_size=2))
    await first.release()
    spec = new_spec(environment_id="env_warm", warm_pool_size=2)
    await wait_until(lambda: provider.warm_ready(spec) == 2)
    claimed = await provider.provision(spec)
    try:
        assert isinstance(claimed, LocalSandbox) and claimed.session_id == spec.session_id
        await Runner(claimed).ok("write", file_path="from-pool.txt", content="claimed")
        assert provider.workspace_path(spec.session_id).joinpath("from-pool.txt").read_text() == "claimed"
        await wait_until(lambda: provider.warm_ready(spec) == 2)
    finally:
        await claimed.release()
    again = await provider.provision(spec)  # a session with a workspace gets a sandbox of its own
    try:
        assert await Runner(again).ok("read", file_path="from-pool.txt") == "claimed"
    finally:
        await again.release()


async def test_a_worker_killed_mid_call_leaves_an_interrupted_call_and_the_workspace(tmp_path: Path) -> None:
    session = "sesn_crashed"
    workspace = runtime_dir(tmp_path) / "fs" / "ws" / session
    child = await anyio.open_process([sys.executable, "-m", "tests.sandbox.crash_child", str(tmp_path), session])
    try:
        await wait_until((workspace / "begun").exists, 60)
    finally:
        child.kill()
        await child.wait()
        await child.aclose()  # its pipes too, or they are left to the garbage collector
    async with open_provider(tmp_path) as provider:
        recorded = await provider.recorded(session, "toolu_crash")
        assert recorded is not None and text_of(recorded).startswith("bash: interrupted:")
        sandbox = await provider.provision(new_spec(session_id=session))
        try:
            assert await sandbox.execute("bash", {"command": "touch /workspace/ended"}, "toolu_crash") == recorded
            listing = await Runner(sandbox).ok("bash", command="cat kept.txt; echo; ls")
            assert listing == "before the crash\nbegun\nkept.txt"
        finally:
            await sandbox.release()


async def test_processes_sharing_a_data_dir_never_pull_the_workspaces_from_under_each_other(tmp_path: Path) -> None:
    """``corral serve`` and a ``corral worker`` on one data dir: the one that mounted the workspace filesystem
    stops first; the other's sandboxes keep their workspaces (the last user unmounts)."""
    command = [sys.executable, "-m", "tests.sandbox.sharing_child", str(tmp_path)]
    child = await anyio.open_process(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdin is not None
        lines = BufferedByteReceiveStream(child.stdout)
        assert await lines.receive_until(b"\n", 1024) == b"ready"  # it mounted the filesystem and ran a call
        async with open_provider(tmp_path) as provider:
            sandbox = await provider.provision(new_spec(session_id="sesn_staying"))
            try:
                await Runner(sandbox).ok("write", file_path="kept.txt", content="still here")
                await child.stdin.send(b"stop\n")
                assert await child.wait() == 0
                assert await Runner(sandbox).ok("bash", command="cat kept.txt; touch more") == "still here"
            finally:
                await sandbox.release()
            again = await provider.provision(new_spec(session_id="sesn_staying"))
            try:
                assert await Runner(again).ok("bash", command="ls") == "kept.txt\nmore"
            finally:
                await again.release()
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        await child.aclose()
