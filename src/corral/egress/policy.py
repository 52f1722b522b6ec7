"""Egress policy: which hosts an environment may reach, and which addresses nobody may reach.

* ``HostPolicy`` is an environment's ``networking``: ``unrestricted`` allows every host; ``limited`` allows
  only ``allowed_hosts`` (exact names, or ``*.example.com`` for every subdomain but not the apex) plus, with
  ``allow_package_managers``, the package registries and code hosts of ``PACKAGE_MANAGER_HOSTS``.
* ``AddressGuard`` is the general safety blocklist that applies under *every* policy, to the addresses a
  host resolves to: loopback, private (RFC 1918, unique-local), link-local, carrier-grade NAT, cloud
  metadata, multicast, reserved and unspecified ranges, IPv4 embedded in IPv6, and any address of this host.

Invariants: names are compared after normalisation (lower case, no trailing dot, IDNA/punycode); a name
that cannot be normalised is refused; DNS is resolved here, never by the sandbox, and the connection goes
to an address that passed the guard (no second lookup, so no rebinding between check and use).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from corral._types import json_list

#: opened by ``allow_package_managers`` (architecture.md §4.3), plus Debian's apt mirrors (our sandboxes run Debian)
_PACKAGE_MANAGER_HOSTS = """
    github.com api.github.com codeload.github.com raw.githubusercontent.com objects.githubusercontent.com
    release-assets.githubusercontent.com gitlab.com bitbucket.org
    registry.npmjs.org registry.yarnpkg.com nodejs.org
    pypi.org files.pythonhosted.org
    crates.io index.crates.io static.crates.io static.rust-lang.org
    proxy.golang.org sum.golang.org
    repo1.maven.org repo.maven.apache.org services.gradle.org plugins.gradle.org plugins-artifacts.gradle.org
    rubygems.org index.rubygems.org
    packagist.org repo.packagist.org
    archive.ubuntu.com security.ubuntu.com ppa.launchpad.net
    deb.debian.org security.debian.org
    registry-1.docker.io auth.docker.io production.cloudflare.docker.com download.docker.com ghcr.io
"""
PACKAGE_MANAGER_HOSTS = frozenset(_PACKAGE_MANAGER_HOSTS.split())

_BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT (also Alibaba's metadata 100.100.100.200)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, AWS/GCP/Azure metadata 169.254.169.254, ECS 169.254.170.2
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments (includes Oracle metadata 192.0.0.192)
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "::/128",
        "::1/128",
        "fc00::/7",  # unique local (AWS metadata fd00:ec2::254)
        "fe80::/10",
        "ff00::/8",
    )
)
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_LOCAL_TTL_SECONDS = 10.0
_LOCAL_CACHE: dict[str, tuple[float, frozenset[Address]]] = {}


def normalize_host(host: str) -> str | None:
    """Lower-case, IDNA-encoded, without trailing dot; IP literals in canonical form; None if not a host."""
    name = host.strip().rstrip(".").lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    if not name or any(c in name for c in "@/\\:?#% \t\r\n") or len(name) > 253:
        return None
    try:
        encoded = name.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = encoded.split(".")
    if any(not label or len(label) > 63 or label.startswith("-") or label.endswith("-") for label in labels):
        return None
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        return None  # a numeric last label is an address in disguise ("0x7f.1", "127.000.000.001"), not a name
    return encoded


def _matches(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])  # "*.example.com" → any subdomain, never the apex
    return host == pattern


@dataclass(frozen=True)
class HostPolicy:
    kind: str = "unrestricted"
    allowed: tuple[str, ...] = ()
    package_managers: bool = False

    @classmethod
    def from_networking(cls, networking: dict[str, Any] | None) -> HostPolicy:
        networking = networking or {"type": "unrestricted"}
        if networking.get("type") != "limited":
            return cls()
        allowed = tuple(_pattern(str(host)) for host in json_list(networking.get("allowed_hosts")) or [])
        return cls("limited", tuple(p for p in allowed if p), bool(networking.get("allow_package_managers")))

    def allows(self, host: str) -> bool:
        if self.kind != "limited":
            return True
        if self.package_managers and host in PACKAGE_MANAGER_HOSTS:
            return True
        return any(_matches(host, pattern) for pattern in self.allowed)


def _pattern(entry: str) -> str | None:
    """An ``allowed_hosts`` entry, normalised; a ``:port`` suffix is dropped (hosts are granted, not ports)."""
    wildcard = entry.startswith("*.")
    name = entry[2:] if wildcard else entry
    if name.count(":") == 1:
        name = name.split(":", 1)[0]
    normalized = normalize_host(name)
    return None if normalized is None else ("*." if wildcard else "") + normalized


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in ipaddress.ip_network("64:ff9b::/96") or address in ipaddress.ip_network("::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def host_addresses() -> frozenset[Address]:
    """Every address assigned to this host (IPv4 from the kernel's routing table, IPv6 from ``if_inet6``)."""
    found: set[Address] = set()
    try:
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
    except OSError:
        lines = []
    for previous, line in zip(lines, lines[1:], strict=False):
        if line.strip().startswith("/32 host LOCAL"):
            found.add(ipaddress.IPv4Address(previous.split("--")[-1].strip()))
    try:
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            found.add(ipaddress.IPv6Address(int(line.split()[0], 16)))
    except OSError:
        pass
    return frozenset(found)


@dataclass(frozen=True)
class AddressGuard:
    """The safety blocklist. ``exempt`` exists for tests only (a loopback "upstream"); nothing in production
    configuration reaches it."""

    exempt: frozenset[tuple[str, int]] = field(default_factory=lambda: frozenset[tuple[str, int]]())

    def blocked(self, address: str, port: int) -> str | None:
        """Why ``address`` may not be connected to, or None."""
        if (address, port) in self.exempt:
            return None
        parsed: Address = ipaddress.ip_address(address)
        if any(parsed in network for network in _BLOCKED_NETWORKS):
            return f"{address} is a private, loopback, link-local or reserved address"
        if isinstance(parsed, ipaddress.IPv6Address) and (inner := _embedded_v4(parsed)) is not None:
            return self.blocked(str(inner), port)
        if parsed in self._local():
            return f"{address} is an address of the corral host"
        return None

    def _local(self) -> frozenset[Address]:
        now = time.monotonic()
        cached = _LOCAL_CACHE.get("addresses")
        if cached is None or now - cached[0] > _LOCAL_TTL_SECONDS:
            cached = _LOCAL_CACHE["addresses"] = (now, host_addresses())
        return cached[1]


class Refused(Exception):
    """A connection the policy or the guard refuses; ``status`` is the HTTP answer (403 or 502)."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


async def resolve(host: str, port: int) -> list[str]:
    if _is_ip(host):
        return [host]
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Refused(f"cannot resolve {host}: {exc.strerror or exc}", status=502) from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def admit(policy: HostPolicy, guard: AddressGuard, host: str, port: int) -> tuple[str, str]:
    """Check ``host:port`` against the policy and the guard → (normalised host, address to connect to)."""
    name = normalize_host(host)
    if name is None:
        raise Refused(f"{host!r} is not a valid host name")
    if not policy.allows(name):
        raise Refused(f"{name} is not in this environment's allowed hosts")
    addresses = await resolve(name, port)
    return name, checked(guard, name, addresses, port)


def checked(guard: AddressGuard, name: str, addresses: Iterable[str], port: int) -> str:
    chosen: str | None = None
    for address in addresses:
        if reason := guard.blocked(address, port):
            raise Refused(f"{name} is blocked: {reason}")
        chosen = chosen or address
    if chosen is None:
        raise Refused(f"cannot resolve {name}", status=502)
    return chosen
