"""The networks of this host: every address of every interface with its subnet, and the gateways of its routes.

Addresses come from the kernel's address table (one ``RTM_GETADDR`` dump over an ``AF_NETLINK`` socket, IPv4
and IPv6 alike, secondary addresses included); gateways from ``/proc/net/route`` and ``/proc/net/ipv6_route``.
A destination on any of these networks is a neighbour of the host (its LAN, its router, another tenant's VM),
never "the internet", whatever ``ipaddress`` thinks of it.

Invariants: a snapshot is read in the network namespace of the calling process; it is cached for
``TTL_SECONDS`` per process and re-read after that (interfaces come and go); a subnet of prefix length 0
(an on-link default route) is not taken as a network of the host, or it would refuse every address.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

TTL_SECONDS = 10.0
_RTM_NEWADDR, _RTM_GETADDR = 20, 22
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_NLM_F_REQUEST, _NLM_F_DUMP = 0x1, 0x300
_IFA_ADDRESS, _IFA_LOCAL = 1, 2
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefix length, flags, scope, interface index
_RTATTR = struct.Struct("=HH")  # length, type


@dataclass(frozen=True)
class HostNetworks:
    addresses: frozenset[Address]
    networks: tuple[Network, ...]
    read_at: float

    def is_own(self, address: Address) -> bool:
        return address in self.addresses

    def is_neighbour(self, address: Address) -> bool:
        return any(address in network for network in self.networks if network.version == address.version)


def _align(length: int) -> int:
    return (length + 3) & ~3


def _attributes(payload: bytes) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    offset = 0
    while offset + _RTATTR.size <= len(payload):
        length, kind = _RTATTR.unpack_from(payload, offset)
        if length < _RTATTR.size:
            break
        found[kind] = payload[offset + _RTATTR.size : offset + length]
        offset += _align(length)
    return found


def _interface_address(message: bytes) -> tuple[Address, list[Network]] | None:
    """One ``RTM_NEWADDR`` message: the interface's address, and its subnet (and its peer's, point-to-point)."""
    family, prefix, _, _, _ = _IFADDRMSG.unpack_from(message)
    if family not in (socket.AF_INET, socket.AF_INET6):
        return None
    attributes = _attributes(message[_IFADDRMSG.size :])
    raw = [attributes[kind] for kind in (_IFA_LOCAL, _IFA_ADDRESS) if len(attributes.get(kind, b"")) in (4, 16)]
    if not raw:
        return None
    addresses = [ipaddress.ip_address(value) for value in raw]
    return addresses[0], [ipaddress.ip_network((address, prefix), strict=False) for address in addresses]


def _netlink_messages(sock: socket.socket) -> list[bytes]:
    """Every ``RTM_NEWADDR`` body of one dump."""
    bodies: list[bytes] = []
    while True:
        data = sock.recv(1 << 16)
        offset = 0
        while offset + _HEADER.size <= len(data):
            length, kind, _, _, _ = _HEADER.unpack_from(data, offset)
            if kind == _NLMSG_DONE:
                return bodies
            if kind == _NLMSG_ERROR:
                raise OSError("netlink: the kernel refused the address dump")
            if kind == _RTM_NEWADDR:
                bodies.append(data[offset + _HEADER.size : offset + length])
            if length < _HEADER.size:
                raise OSError("netlink: a malformed message")
            offset += _align(length)


def interface_addresses() -> list[tuple[Address, list[Network]]]:
    """(address, its subnets) for every address of every interface."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        body = _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        sock.send(_HEADER.pack(_HEADER.size + len(body), _RTM_GETADDR, _NLM_F_REQUEST | _NLM_F_DUMP, 1, 0) + body)
        found = [_interface_address(message) for message in _netlink_messages(sock)]
    return [entry for entry in found if entry is not None]


def _gateways_v4(text: str) -> list[Address]:
    found: list[Address] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 2 and int(fields[2], 16) != 0:
            found.append(ipaddress.IPv4Address(struct.pack("<I", int(fields[2], 16))))
    return found


def _gateways_v6(text: str) -> list[Address]:
    found: list[Address] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 4 and int(fields[4], 16) != 0:
            found.append(ipaddress.IPv6Address(int(fields[4], 16)))
    return found


def _read_proc(name: str) -> str:
    try:
        return Path("/proc/net", name).read_text()
    except OSError:
        return ""  # no IPv6 in this kernel, or no routes: no gateways of that family


def read() -> HostNetworks:
    """A fresh snapshot (blocking: a netlink dump and two small /proc files)."""
    interfaces = interface_addresses()
    gateways = _gateways_v4(_read_proc("route")) + _gateways_v6(_read_proc("ipv6_route"))
    own = frozenset(address for address, _ in interfaces)
    subnets = {n for _, networks in interfaces for n in networks if n.prefixlen > 0}
    subnets |= {ipaddress.ip_network(address) for address in own | set(gateways)}
    return HostNetworks(own, tuple(sorted(subnets, key=lambda n: (n.version, n))), time.monotonic())


_lock = threading.Lock()
_cached: list[HostNetworks] = []


def stale() -> bool:
    with _lock:
        return not _cached or time.monotonic() - _cached[0].read_at > TTL_SECONDS


def current() -> HostNetworks:
    """The cached snapshot, re-read when older than ``TTL_SECONDS`` (blocking then: call ``stale`` first from
    async code and refresh in a thread)."""
    if stale():
        snapshot = read()
        with _lock:
            _cached[:] = [snapshot]
    with _lock:
        return _cached[0]


def host_addresses() -> frozenset[Address]:
    """Every address assigned to an interface of this host."""
    return current().addresses
