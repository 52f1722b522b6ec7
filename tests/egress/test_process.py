"""``corral egress`` as the composition root runs it: a child process started by ``open_egress``, used by a
sandbox provider through ``EgressClient``, and stopped with the stack."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from corral.config import Settings
from corral.egress.process import open_egress
from corral.sandbox.local import LocalOptions, LocalSandboxProvider
from corral.sandbox.runtime import egress_socket_dir
from tests.sandbox.conftest import Runner, new_spec

pytestmark = pytest.mark.anyio


async def test_corral_serve_starts_the_egress_process_and_sandboxes_use_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    control = egress_socket_dir(tmp_path) / "control.sock"
    async with AsyncExitStack() as stack:
        client = await open_egress(stack, settings)
        assert client is not None
        options = LocalOptions(disk_image_bytes=8 * 1024**3)
        provider = await stack.enter_async_context(LocalSandboxProvider(settings, client, options=options))
        networking = {"type": "limited", "allowed_hosts": ["pypi.org"]}
        sandbox = await provider.provision(new_spec(networking=networking))
        answer = await Runner(sandbox).ok("bash", command="curl -sS -m 10 -w ' %{http_code}' http://blocked.example/")
        assert answer.endswith("blocked.example is not in this environment's allowed hosts\n 403")
        await sandbox.release()
        assert control.exists()
    assert not control.exists()


async def test_egress_can_be_switched_off(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        assert await open_egress(stack, Settings(data_dir=tmp_path, egress_enabled=False)) is None
