"""Environment packages, built once into a per-environment layer through the egress proxy.

``test_pip_packages_are_installed_once_per_environment`` is the suite's one test that reaches a real
registry (PyPI, through the egress proxy, which this machine's CI can reach); everything else is loopback.
This machine's registry mirror answers for PyPI at a documentation address (TEST-NET-3), which the egress
refuses unless the operator allows it, as ``CORRAL_EGRESS_ALLOW_PRIVATE`` would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from corral._types import JSONObject
from corral.config import Settings
from corral.egress.addresses import AddressGuard, PrivateAllowance
from corral.egress.client import EgressClient
from corral.egress.layout import state_paths
from corral.egress.server import EgressServer, running_egress
from corral.errors import SandboxError
from corral.sandbox.local import LocalOptions, LocalSandboxProvider
from tests.sandbox.conftest import SMALL_IMAGE, Runner, new_spec

pytestmark = pytest.mark.anyio
PACKAGES: JSONObject = {
    "type": "packages",
    "apt": [],
    "cargo": [],
    "gem": [],
    "go": [],
    "npm": [],
    "pip": ["six==1.16.0"],
}
REGISTRIES: JSONObject = {"type": "limited", "allowed_hosts": [], "allow_package_managers": True}
MIRRORED = AddressGuard(allowance=PrivateAllowance.parse(["pypi.org", "files.pythonhosted.org"]))


@pytest.fixture
async def networked(tmp_path: Path) -> AsyncIterator[LocalSandboxProvider]:
    async with running_egress(EgressServer(*state_paths(tmp_path), guard=MIRRORED)) as server:
        client = EgressClient(server.control_path)
        options = LocalOptions(disk_image_bytes=SMALL_IMAGE)
        async with LocalSandboxProvider(Settings(data_dir=tmp_path), client, options=options) as provider:
            yield provider
        await client.aclose()


@pytest.mark.timeout(600)
async def test_pip_packages_are_installed_once_per_environment(networked: LocalSandboxProvider) -> None:
    first = await networked.provision(new_spec(environment_id="env_pkgs", networking=REGISTRIES, packages=PACKAGES))
    run = Runner(first)
    assert await run.ok("bash", command="python3 -c 'import six; print(six.__version__, six.__file__)'") == (
        "1.16.0 /opt/packages/pip/six.py"
    )
    assert "Read-only file system" in await run.fails("bash", command="touch /opt/packages/pip/evil.py")
    await first.release()
    layers = list(networked.host.disk.layers.iterdir())
    second = await networked.provision(new_spec(environment_id="env_pkgs", networking=REGISTRIES, packages=PACKAGES))
    try:
        assert await Runner(second).ok("bash", command="python3 -c 'import six; print(six.PY3)'") == "True"
        assert list(networked.host.disk.layers.iterdir()) == layers and len(layers) == 1
        assert layers[0].stat().st_uid == 0
    finally:
        await second.release()


async def test_unsupported_package_managers_are_a_clear_provisioning_error(networked: LocalSandboxProvider) -> None:
    packages = {**PACKAGES, "pip": [], "cargo": ["ripgrep"]}
    with pytest.raises(SandboxError, match="packages: cargo packages are not supported by the local sandbox provider"):
        await networked.provision(new_spec(networking=REGISTRIES, packages=packages))
