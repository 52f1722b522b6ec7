"""Fixtures of the sandbox tests: a real ``LocalSandboxProvider`` (bubblewrap, cgroups, btrfs) per module.

Sandboxes are cheap but a provider start (filesystem image, seccomp filter) is not, so one provider serves a
whole test module; every test gets sessions of its own (``new_spec``), hence its own workspace and uid.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from corral.config import Settings
from corral.sandbox import Limits, ProvisionSpec, Sandbox, ToolResult
from corral.sandbox.local import LocalOptions, LocalSandboxProvider
from corral.sandbox.workspaces import WorkspaceStore

_ids = itertools.count(1)
SMALL_IMAGE = 8 * 1024**3  # sparse


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def new_spec(**overrides: Any) -> ProvisionSpec:
    """A spec for a brand-new session (unique id, hence its own workspace)."""
    fields: dict[str, Any] = {"session_id": f"sesn_test{next(_ids):05d}", "environment_id": "env_test"}
    return ProvisionSpec(**{**fields, **overrides})


def open_provider(data_dir: Path, workspaces: WorkspaceStore | None = None, **options: Any) -> LocalSandboxProvider:
    settings = Settings(data_dir=data_dir, egress_enabled=False)
    provider = LocalSandboxProvider(settings, options=LocalOptions(disk_image_bytes=SMALL_IMAGE, **options))
    if workspaces is not None:
        provider.follow_workspaces(workspaces)
    return provider


@pytest.fixture(scope="module")
async def provider(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalSandboxProvider]:
    async with open_provider(tmp_path_factory.mktemp("sandbox")) as started:
        yield started


@pytest.fixture
async def sandbox(provider: LocalSandboxProvider) -> AsyncIterator[Sandbox]:
    started = await provider.provision(new_spec())
    try:
        yield started
    finally:
        await started.release()


def text_of(result: ToolResult) -> str:
    return "\n".join(str(block.get("text", "")) for block in result.content)


class Runner:
    """Calls with fresh tool_use ids: ``await run("bash", command="ls")`` → the result."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def __call__(self, tool: str, **tool_input: Any) -> ToolResult:
        return await self.sandbox.execute(tool, tool_input, f"toolu_{next(_ids):06d}")

    async def ok(self, tool: str, **tool_input: Any) -> str:
        result = await self(tool, **tool_input)
        assert not result.is_error, text_of(result)
        return text_of(result)

    async def fails(self, tool: str, **tool_input: Any) -> str:
        result = await self(tool, **tool_input)
        assert result.is_error, text_of(result)
        return text_of(result)


@pytest.fixture
def run(sandbox: Sandbox) -> Runner:
    return Runner(sandbox)


async def wait_until(predicate: Callable[[], bool], seconds: float = 30.0, step: float = 0.05) -> None:
    """Poll ``predicate`` until it holds; fail after ``seconds``."""
    await wait_for(_as_async(predicate), seconds, step)


async def wait_for(check: Callable[[], Awaitable[bool]], seconds: float = 30.0, step: float = 0.05) -> None:
    """Poll ``check`` (e.g. a tool call that reads a file) until it holds; fail after ``seconds``."""
    for _ in range(int(seconds / step)):
        if await check():
            return
        await anyio.sleep(step)
    raise AssertionError(f"condition not met within {seconds} s")


def _as_async(predicate: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return predicate()

    return check


TIGHT = Limits(memory_bytes=128 * 1024**2, pids=64, disk_bytes=64 * 1024**2, wall_seconds=30.0)
