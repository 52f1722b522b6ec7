"""Which addresses nobody may reach through corral: one rule, used by the egress proxy and by ``web_fetch``.

An address is refused unless it is **globally routable** and **not on this host's networks**:

* not globally routable: what ``ipaddress`` says is not ``is_global``, plus the special-purpose ranges it
  still calls global (multicast, ``0.0.0.0/8``, ``192.0.0.0/24``, the 6to4 relay anycast ``192.88.99.0/24``,
  ``240.0.0.0/4``, IPv4-compatible ``::/96``, local-use NAT64 ``64:ff9b:1::/48``, SRv6 ``5f00::/16``,
  documentation ``3fff::/20``, site-local ``fec0::/10``). An IPv6 address that carries an IPv4 address
  (IPv4-mapped ``::ffff:0:0/96``, SIIT ``::ffff:0:0:0/96``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo
  ``2001::/32`` server and client) is refused when the IPv4 address inside is;
* this host's networks (``host_networks``): its own addresses, the subnets of its interfaces and its
  gateways, read from the kernel and refreshed.

``PrivateAllowance`` is the operator's way out (``CORRAL_EGRESS_ALLOW_PRIVATE``): networks (CIDR or single
addresses) and host names that stay reachable although the rule above refuses them, e.g. an internal MCP
server. A host name listed there is allowed whatever it resolves to (the operator trusts its DNS).

Invariants: ``AddressGuard.blocked`` is the only place this rule is written; ``exempt`` (an exact address and
port) exists for tests, which construct it in code; no configuration reaches it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from corral.egress import host_networks
from corral.egress.host_networks import Address, Network
from corral.egress.names import normalize_host

_SPECIAL = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",
        "192.0.0.0/24",
        "192.88.99.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/96",
        "64:ff9b:1::/48",
        "5f00::/16",
        "3fff::/20",
        "fec0::/10",
        "ff00::/8",
    )
)
_SIIT = ipaddress.ip_network("::ffff:0:0:0/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
NOT_GLOBAL = "is a private, loopback, link-local or reserved address (not globally routable)"


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address carries (mapped, translated, NAT64, 6to4, Teredo), if any."""
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address in _SIIT or address in _NAT64:
        return (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        return address.teredo
    return ()


def _not_global(address: Address) -> bool:
    return not address.is_global or address.is_multicast or any(address in network for network in _SPECIAL)


def why_not_global(address: Address) -> str | None:
    """Why ``address`` is not a globally routable destination (naming the IPv4 address inside), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        for inner in embedded_ipv4(address):
            if _not_global(inner):
                return f"{inner} {NOT_GLOBAL}"
    return f"{address} {NOT_GLOBAL}" if _not_global(address) else None


@dataclass(frozen=True)
class PrivateAllowance:
    """Destinations the operator keeps reachable although they are private or on this host's networks."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> PrivateAllowance:
        """CIDRs, addresses or host names; ``ValueError`` naming the first entry that is none of them."""
        networks: list[Network] = []
        hosts: set[str] = set()
        for entry in (e.strip() for e in entries):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = normalize_host(entry)
            if name is None or "/" in entry:
                raise ValueError(f"{entry!r} is neither a network (CIDR), an address nor a host name")
            hosts.add(name)
        return cls(tuple(networks), frozenset(hosts))

    def permits(self, address: Address, host: str | None) -> bool:
        return (host is not None and host in self.hosts) or any(address in network for network in self.networks)


@dataclass(frozen=True)
class AddressGuard:
    """The rule above; ``exempt`` is for tests only (a loopback "upstream"), nothing in configuration reaches it."""

    exempt: frozenset[tuple[str, int]] = field(default_factory=lambda: frozenset[tuple[str, int]]())
    allowance: PrivateAllowance = field(default_factory=PrivateAllowance)

    def blocked(self, address: str, port: int, host: str | None = None) -> str | None:
        """Why ``address`` (which ``host`` resolved to, if a name) may not be connected to, or None."""
        if (address, port) in self.exempt:
            return None
        parsed: Address = ipaddress.ip_address(address)
        if self.allowance.permits(parsed, host):
            return None
        networks = host_networks.current()
        if networks.is_own(parsed) and not parsed.is_loopback:
            return f"{address} is an address of the corral host"
        if (reason := why_not_global(parsed)) is not None:
            return reason
        if networks.is_neighbour(parsed):
            return f"{address} is on a network of the corral host"
        return None
