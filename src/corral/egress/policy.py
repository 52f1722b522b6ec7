"""Egress policy: which hosts an environment may reach, and how a request's destination is admitted.

* ``HostPolicy`` is an environment's ``networking``: ``unrestricted`` allows every host; ``limited`` allows
  only ``allowed_hosts`` (exact names, or ``*.example.com`` for every subdomain but not the apex) plus, with
  ``allow_package_managers``, the package registries and code hosts of ``PACKAGE_MANAGER_HOSTS``.
* ``admit`` is the one admission path, for the proxy and ``web_fetch`` alike: the name is normalised
  (``names``), checked against the policy, resolved here, and **every** address it resolves to is checked
  by the ``AddressGuard`` (``addresses``: only globally routable addresses off this host's networks, unless
  the operator allowed them); the caller connects to the address returned, never to a second lookup.

Invariants: a name that cannot be normalised is refused; DNS is resolved here, never by the sandbox; one
refused address refuses the name (no rebinding between check and use, no round-robin into a private range).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread

from corral._types import json_list
from corral.egress import host_networks
from corral.egress.addresses import AddressGuard, PrivateAllowance
from corral.egress.host_networks import host_addresses
from corral.egress.names import normalize_host

__all__ = [
    "PACKAGE_MANAGER_HOSTS",
    "AddressGuard",
    "HostPolicy",
    "PrivateAllowance",
    "Refused",
    "admit",
    "checked",
    "host_addresses",
    "normalize_host",
    "resolve",
]

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
    if host_networks.stale():  # re-read this host's networks off the event loop
        await anyio.to_thread.run_sync(host_networks.current)
    return name, checked(guard, name, addresses, port)


def checked(guard: AddressGuard, name: str, addresses: Iterable[str], port: int) -> str:
    """The first of ``addresses`` if the guard admits every one of them; ``Refused`` otherwise."""
    chosen: str | None = None
    for address in addresses:
        if reason := guard.blocked(address, port, None if _is_ip(name) else name):
            raise Refused(f"{name} is blocked: {reason}")
        chosen = chosen or address
    if chosen is None:
        raise Refused(f"cannot resolve {name}", status=502)
    return chosen
