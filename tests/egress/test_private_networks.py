"""Private destinations end to end, against test hosts this module places in network namespaces of its own,
each behind a veth pair on a private /30 (never the real gateway, a neighbour or an address off this machine):
the supervised proxy refuses them by default, reaches one when ``CORRAL_EGRESS_ALLOW_PRIVATE`` names its
subnet, and still refuses the other. And this host's networks as the kernel reports them, read inside a
namespace whose interface has a globally routable address: its address, its subnet and its gateway are
refused, the rest of the internet is not. Every namespace and veth is removed afterwards.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import subprocess
import sys
from collections.abc import AsyncGenerator, Generator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from corral.config import Settings
from corral.egress import host_networks
from corral.egress.process import supervised_egress
from corral.sandbox.local import LocalOptions, LocalSandboxProvider
from tests.egress.conftest import via_proxy
from tests.sandbox.conftest import SMALL_IMAGE, Runner, new_spec

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]
_SERVE = """
import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[3])
handler.log_message = lambda *args: None
server = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), handler)
print("ready", flush=True)
server.serve_forever()
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@contextmanager
def namespace() -> Generator[str]:
    name = f"crl{secrets.token_hex(3)}"
    ip("netns", "add", name)
    try:
        yield name
    finally:
        ip("netns", "del", name)


@dataclass(frozen=True)
class NamespaceHost:
    namespace: str
    subnet: str
    address: str
    port: int = 8080

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}/"


def _free_subnet() -> ipaddress.IPv4Network:
    taken = host_networks.read().networks
    while True:
        subnet = ipaddress.IPv4Network(f"10.{secrets.choice(range(200, 250))}.{secrets.randbelow(256)}.0/30")
        if not any(subnet.overlaps(network) for network in taken if network.version == 4):
            return subnet


@contextmanager
def namespace_host(directory: Path) -> Generator[NamespaceHost]:
    """An HTTP server in a namespace of its own, reachable from this host over a veth pair on a private /30."""
    subnet = _free_subnet()
    near, far = (str(address) for address in list(subnet.hosts())[:2])
    with namespace() as name:
        ip("link", "add", f"{name}h", "type", "veth", "peer", "name", f"{name}n", "netns", name)
        ip("addr", "add", f"{near}/30", "dev", f"{name}h")
        ip("link", "set", f"{name}h", "up")
        ip("-n", name, "addr", "add", f"{far}/30", "dev", f"{name}n")
        ip("-n", name, "link", "set", f"{name}n", "up")
        ip("-n", name, "link", "set", "lo", "up")
        (directory / "index.html").write_text(f"served from {name}\n")
        command = ["ip", "netns", "exec", name, sys.executable, "-c", _SERVE, far, "8080", str(directory)]
        server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None and server.stdout.readline() == "ready\n"
            yield NamespaceHost(name, str(subnet), far)
        finally:
            server.kill()
            server.wait()
            if server.stdout is not None:
                server.stdout.close()
            # now, whatever happened above: a namespace itself (and its end of the pair) goes away in the background
            subprocess.run(["ip", "link", "del", f"{name}h"], capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NamespaceHost, NamespaceHost]]:
    with namespace_host(tmp_path_factory.mktemp("host-a")) as a, namespace_host(tmp_path_factory.mktemp("host-b")) as b:
        yield a, b
    left = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert a.namespace not in left and b.namespace not in left


@asynccontextmanager
async def sandbox_behind(settings: Settings) -> AsyncGenerator[Runner]:
    """A sandbox (``unrestricted`` networking) of a provider whose egress is a supervised proxy for ``settings``."""
    async with AsyncExitStack() as stack:
        _, client = await stack.enter_async_context(supervised_egress(settings))
        options = LocalOptions(disk_image_bytes=SMALL_IMAGE)
        provider = await stack.enter_async_context(LocalSandboxProvider(settings, client, options=options))
        sandbox = await provider.provision(new_spec(networking={"type": "unrestricted"}))
        stack.push_async_callback(sandbox.release)
        yield Runner(sandbox)


def _refused(answer: str, host: NamespaceHost) -> bool:
    return f"{host.address} is a private, loopback, link-local or reserved address" in answer and answer.endswith(
        " 403"
    )


async def test_private_hosts_are_refused_by_default_and_reached_when_the_operator_allows_their_subnet(
    hosts: tuple[NamespaceHost, NamespaceHost], tmp_path_factory: pytest.TempPathFactory
) -> None:
    a, b = hosts
    default = Settings(data_dir=tmp_path_factory.mktemp("default"))
    async with sandbox_behind(default) as run:
        for host in hosts:
            answer = await run.ok("bash", command=via_proxy(host.url, "-w ' %{http_code}'"))
            assert _refused(answer, host), answer
    allowing = Settings(data_dir=tmp_path_factory.mktemp("allowing"), egress_allow_private=(a.subnet,))
    async with sandbox_behind(allowing) as run:
        assert await run.ok("bash", command=via_proxy(a.url)) == f"served from {a.namespace}"
        answer = await run.ok("bash", command=via_proxy(b.url, "-w ' %{http_code}'"))
        assert _refused(answer, b), answer


_DECIDE = """
import json, sys
from corral.egress.addresses import AddressGuard
guard = AddressGuard()
print(json.dumps({address: guard.blocked(address, 443) for address in sys.argv[1:]}))
"""


def test_this_hosts_networks_are_refused_even_when_globally_routable() -> None:
    with namespace() as name:
        ip("-n", name, "link", "add", "a0", "type", "veth", "peer", "name", "a1")
        ip("-n", name, "link", "set", "a0", "up")
        ip("-n", name, "addr", "add", "11.22.33.1/24", "dev", "a0")
        ip("-n", name, "addr", "add", "2a00:1450:dead::1/64", "dev", "a0", "nodad")
        ip("-n", name, "route", "add", "default", "via", "12.0.0.1", "dev", "a0", "onlink")
        addresses = ["11.22.33.1", "11.22.33.77", "12.0.0.1", "2a00:1450:dead::1", "2a00:1450:dead::99"]
        addresses += ["11.22.34.1", "2a00:1450:beef::1", "8.8.8.8"]
        command = ["ip", "netns", "exec", name, sys.executable, "-c", _DECIDE, *addresses]
        decided = json.loads(subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout)
    assert decided == {
        "11.22.33.1": "11.22.33.1 is an address of the corral host",
        "11.22.33.77": "11.22.33.77 is on a network of the corral host",
        "12.0.0.1": "12.0.0.1 is on a network of the corral host",
        "2a00:1450:dead::1": "2a00:1450:dead::1 is an address of the corral host",
        "2a00:1450:dead::99": "2a00:1450:dead::99 is on a network of the corral host",
        "11.22.34.1": None,
        "2a00:1450:beef::1": None,
        "8.8.8.8": None,
    }
