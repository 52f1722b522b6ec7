"""Limits per tenant workspace on one machine (``corral.sandbox.limits``, ``Disk.join``): live sandboxes, disk, and
files, which the disk limit bounds (btrfs has no inode quota; metadata is charged to the workspace's qgroup).

One provider with ``CORRAL_MAX_SANDBOXES_PER_WORKSPACE=1`` and ``CORRAL_WORKSPACE_DISK_BYTES`` of 4 MiB serves the
module; each test uses workspaces of its own.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from corral.config import Settings
from corral.sandbox import ToolResult
from corral.sandbox.hands import Hands
from corral.sandbox.local import LocalOptions, LocalSandboxProvider
from corral.sandbox.local.sandbox import LocalSandbox
from corral.sandbox.recipe import Environments
from tests.sandbox.conftest import SMALL_IMAGE, Runner, new_spec, text_of, wait_until

pytestmark = pytest.mark.anyio
MiB = 1024**2
WORKSPACE_DISK = 4 * MiB  # each session's own quota is the default 1 GiB: the workspace's is the one reached
_ids = itertools.count(1)


@pytest.fixture(scope="module")
async def limited(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalSandboxProvider]:
    data_dir: Path = tmp_path_factory.mktemp("limited")
    settings = Settings(
        data_dir=data_dir,
        egress_enabled=False,
        max_sandboxes_per_workspace=1,
        workspace_disk_bytes=WORKSPACE_DISK,
    )
    async with LocalSandboxProvider(settings, options=LocalOptions(disk_image_bytes=SMALL_IMAGE)) as started:
        assert started.host.disk.quota_enforced
        yield started


def hands(provider: LocalSandboxProvider, workspace_id: str) -> Hands:
    """A new session of ``workspace_id``, as the harness holds its sandbox."""
    held = Hands(f"sesn_limits{next(_ids):04d}", provider, Environments(), "lazy")
    held.bind(workspace_id, "env_test")
    return held


async def bash(held: Hands, command: str) -> ToolResult:
    return await held.execute("bash", {"command": command}, f"toolu_limits{next(_ids):05d}")


async def test_a_workspace_past_its_sandbox_limit_gets_a_tool_error_until_one_stops(
    limited: LocalSandboxProvider,
) -> None:
    first, second, elsewhere = hands(limited, "wrkspc_one"), hands(limited, "wrkspc_one"), hands(limited, "wrkspc_two")
    assert text_of(await bash(first, "echo first")) == "first"
    refused = await bash(second, "echo second")
    assert refused.is_error
    assert "workspace wrkspc_one already runs 1 sandbox, its limit (CORRAL_MAX_SANDBOXES_PER_WORKSPACE=1)" in (
        text_of(refused)
    )
    assert text_of(await bash(elsewhere, "echo elsewhere")) == "elsewhere"  # another workspace is not held back
    await first.release()
    assert text_of(await bash(second, "echo second")) == "second"
    for held in (second, elsewhere):
        await held.release()


async def test_the_sessions_of_a_workspace_together_stop_at_its_disk_quota(limited: LocalSandboxProvider) -> None:
    pooled = new_spec(workspace_id="wrkspc_disk", warm_pool_size=1)
    await limited.prepare(pooled)
    await wait_until(lambda: limited.warm_ready(pooled) == 1, 60)
    first = await limited.provision(pooled)  # a warm sandbox's workspace joins the workspace's group when claimed
    assert isinstance(first, LocalSandbox) and first.parts.plan.workspace.name.startswith("warm-")
    await Runner(first).ok("bash", command="head -c 3000000 /dev/zero > big && sync")
    await first.release()
    second = Runner(await limited.provision(new_spec(workspace_id="wrkspc_disk")))
    assert "Disk quota exceeded" in await second.fails("bash", command="head -c 3000000 /dev/zero > big")
    await second.ok("bash", command="rm -f big && sync")
    assert await second.ok("write", file_path="after.txt", content="room left") == "wrote 9 bytes to after.txt"
    await second.sandbox.release()
    other = Runner(await limited.provision(new_spec(workspace_id="wrkspc_notdisk")))
    await other.ok("bash", command="head -c 3000000 /dev/zero > big")  # its own workspace's quota
    await other.sandbox.release()


async def test_files_are_bounded_by_the_workspace_disk_quota(limited: LocalSandboxProvider) -> None:
    run = Runner(await limited.provision(new_spec(workspace_id="wrkspc_files")))
    # one file takes most of the quota first: near its limit btrfs commits before each refused reservation (a few
    # ms), so the loop should meet the limit within about a thousand files, not tens of thousands
    await run.ok("bash", command="head -c 3800000 /dev/zero > data && sync")
    # empty files, made by builtins (no process per file): only their metadata is charged; the first one the quota
    # refuses ends the loop
    loop = "mkdir d && for ((i = 0; i < 300000; i++)); do : > d/$i || { echo made $i; exit 1; }; done"
    text = await run.fails("bash", command=loop)
    assert "Disk quota exceeded" in text
    made = int(text.rsplit("made ", 1)[1].split()[0])
    assert 100 < made < 300000
    assert await run.ok("bash", command="ls d | wc -l") == str(made)  # the sandbox answers on
    await run.ok("bash", command="rm -rf d data && sync")
    assert await run.ok("write", file_path="after.txt", content="room again") == "wrote 10 bytes to after.txt"
    await run.sandbox.release()
