"""The address rule (``corral.egress.addresses``), table-tested: every special-purpose range is refused, the
IPv4 address inside an IPv6 one is judged too, this host's own addresses and networks are refused, the operator
allowance reopens exactly what it names, and the admission path ``web_fetch`` shares is the same function."""

from __future__ import annotations

import ipaddress

import pytest

from corral.config import load_settings
from corral.egress import host_networks
from corral.egress.addresses import AddressGuard, PrivateAllowance, embedded_ipv4
from corral.egress.policy import HostPolicy, Refused, admit, checked
from corral.egress.process import address_guard
from corral.errors import ConfigError

pytestmark = pytest.mark.anyio

REFUSED = {
    "127.0.0.1": "loopback",
    "127.255.255.254": "loopback",
    "::1": "loopback",
    "0.0.0.0": "this network",
    "0.1.2.3": "this network",
    "::": "unspecified",
    "10.0.0.1": "RFC 1918",
    "172.16.0.1": "RFC 1918",
    "172.31.255.254": "RFC 1918",
    "192.168.1.1": "RFC 1918",
    "100.64.0.1": "CGNAT",
    "100.127.255.254": "CGNAT",
    "100.100.100.200": "CGNAT (Alibaba metadata)",
    "169.254.0.1": "link-local",
    "169.254.169.254": "metadata",
    "169.254.170.2": "ECS metadata",
    "fe80::1": "link-local",
    "fd00:ec2::254": "AWS metadata (unique-local)",
    "fc00::1": "unique-local",
    "fdff:ffff::1": "unique-local",
    "fec0::1": "site-local",
    "192.0.0.192": "IETF protocol assignments (Oracle metadata)",
    "192.0.0.9": "IETF protocol assignments",
    "192.0.2.1": "TEST-NET-1",
    "198.51.100.1": "TEST-NET-2",
    "203.0.113.1": "TEST-NET-3",
    "2001:db8::1": "IPv6 documentation",
    "3fff::1": "IPv6 documentation (RFC 9637)",
    "198.18.0.1": "benchmarking",
    "198.19.255.254": "benchmarking",
    "2001:2::1": "IPv6 benchmarking",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "ff02::1": "IPv6 multicast",
    "ff0e::1": "IPv6 global-scope multicast",
    "255.255.255.255": "broadcast",
    "240.0.0.1": "reserved",
    "192.88.99.1": "6to4 relay anycast",
    "100::1": "discard-only",
    "5f00::1": "SRv6 SIDs",
    "::ffff:10.0.0.1": "IPv4-mapped private",
    "::ffff:127.0.0.1": "IPv4-mapped loopback",
    "::ffff:169.254.169.254": "IPv4-mapped metadata",
    "::ffff:0:a00:1": "SIIT-translated private",
    "::10.0.0.1": "IPv4-compatible (deprecated)",
    "::8.8.8.8": "IPv4-compatible (deprecated), even public",
    "2002:a00:1::1": "6to4 embedding 10.0.0.1",
    "2002:a9fe:a9fe::1": "6to4 embedding the metadata address",
    "2002:7f00:1::1": "6to4 embedding loopback",
    "2001::1": "Teredo",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": "Teredo (public server, TEST-NET client)",
    "64:ff9b::a00:1": "NAT64 embedding 10.0.0.1",
    "64:ff9b::a9fe:a9fe": "NAT64 embedding the metadata address",
    "64:ff9b::7f00:1": "NAT64 embedding loopback",
    "64:ff9b:1::808:808": "local-use NAT64",
}

REACHABLE = [
    "8.8.8.8",
    "1.1.1.1",
    "151.101.0.223",
    "2606:4700::1111",
    "2a00:1450:4001::1",
    "::ffff:8.8.8.8",  # IPv4-mapped, a global address inside
    "2002:808:808::1",  # 6to4 of a global address
    "64:ff9b::808:808",  # NAT64 of a global address
]


@pytest.mark.parametrize(("address", "what"), sorted(REFUSED.items()))
def test_every_special_range_is_refused(address: str, what: str) -> None:
    reason = AddressGuard().blocked(address, 443)
    assert reason is not None, what
    assert "not globally routable" in reason or "corral host" in reason, reason


@pytest.mark.parametrize("address", REACHABLE)
def test_globally_routable_addresses_are_reachable(address: str) -> None:
    assert AddressGuard().blocked(address, 443) is None


def test_an_embedded_private_ipv4_address_is_the_one_named() -> None:
    assert AddressGuard().blocked("2002:a00:1::1", 443) == (
        "10.0.0.1 is a private, loopback, link-local or reserved address (not globally routable)"
    )
    assert embedded_ipv4(ipaddress.IPv6Address("64:ff9b::a9fe:a9fe")) == (ipaddress.IPv4Address("169.254.169.254"),)
    server, client = embedded_ipv4(ipaddress.IPv6Address("2001:0:4136:e378:8000:63bf:3fff:fdd2"))
    assert (str(server), str(client)) == ("65.54.227.120", "192.0.2.45")


def test_this_hosts_addresses_and_networks_are_refused() -> None:
    snapshot = host_networks.read()
    guard = AddressGuard()
    assert snapshot.addresses, "this host has no address at all?"
    for address in snapshot.addresses:
        assert guard.blocked(str(address), 80) is not None, address
    for network in snapshot.networks:
        for address in (network.network_address, network.broadcast_address):
            assert guard.blocked(str(address), 80) is not None, (network, address)
    own = next(a for a in snapshot.addresses if not a.is_loopback)
    assert guard.blocked(str(own), 80) == f"{own} is an address of the corral host"


def test_the_allowance_reopens_exactly_what_it_names() -> None:
    allowance = PrivateAllowance.parse(["10.20.0.0/16", " 192.168.7.7 ", "MCP.Internal.", "[fd00::5]", ""])
    guard = AddressGuard(allowance=allowance)
    assert guard.blocked("10.20.3.4", 443) is None
    assert guard.blocked("192.168.7.7", 443) is None
    assert guard.blocked("fd00::5", 443) is None
    assert guard.blocked("10.0.0.1", 443, host="mcp.internal") is None  # a listed name, whatever it resolves to
    assert guard.blocked("10.21.0.1", 443) is not None
    assert guard.blocked("192.168.7.8", 443) is not None
    assert guard.blocked("10.0.0.1", 443, host="other.internal") is not None
    for bad in ("10.0.0.0/33", "not a host", "example.com/path", "a@b"):
        with pytest.raises(ValueError, match="neither a network"):
            PrivateAllowance.parse([bad])


def test_one_refused_address_refuses_the_name() -> None:
    with pytest.raises(Refused, match="mixed.test is blocked: 10.0.0.1 is a private"):
        checked(AddressGuard(), "mixed.test", ["8.8.8.8", "10.0.0.1"], 443)
    assert checked(AddressGuard(), "public.test", ["8.8.8.8", "1.1.1.1"], 443) == "8.8.8.8"


async def test_admission_resolves_and_checks_every_address() -> None:
    with pytest.raises(Refused, match=r"localhost is blocked: (127\.0\.0\.1|::1) is a private"):
        await admit(HostPolicy(), AddressGuard(), "localhost", 80)
    allowed = AddressGuard(allowance=PrivateAllowance.parse(["localhost"]))
    name, address = await admit(HostPolicy(), allowed, "localhost", 80)
    assert name == "localhost" and ipaddress.ip_address(address).is_loopback


def test_the_operator_setting_is_a_comma_separated_list_and_a_bad_entry_stops_the_start() -> None:
    settings = load_settings({"CORRAL_EGRESS_ALLOW_PRIVATE": " 10.9.0.0/16, mcp.internal ,,"})
    assert settings.egress_allow_private == ("10.9.0.0/16", "mcp.internal")
    guard = address_guard(settings)
    assert guard.blocked("10.9.1.1", 443) is None and guard.blocked("10.8.1.1", 443) is not None
    with pytest.raises(ConfigError, match="CORRAL_EGRESS_ALLOW_PRIVATE: 'http://x' is neither a network"):
        address_guard(load_settings({"CORRAL_EGRESS_ALLOW_PRIVATE": "10.0.0.0/8,http://x"}))
