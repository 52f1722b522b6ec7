"""Egress policy without the network: host names, allowlist matching (architecture.md §3.2), the package
manager bundle, and the safety blocklist's address ranges."""

from __future__ import annotations

import pytest

from corral.egress.policy import (
    PACKAGE_MANAGER_HOSTS,
    AddressGuard,
    HostPolicy,
    Refused,
    admit,
    host_addresses,
    normalize_host,
)

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("[::1]", "::1"),
        ("127.000.000.001", None),
        ("0x7f.1", None),
        ("allowed.com@evil.test", None),
        ("evil.test/path", None),
        ("a..b", None),
        ("-bad.example", None),
        ("", None),
    ],
)
def test_host_names_are_normalized_or_refused(raw: str, normalized: str | None) -> None:
    assert normalize_host(raw) == normalized


def test_limited_allows_exact_names_and_wildcards_for_subdomains_only() -> None:
    policy = HostPolicy.from_networking(
        {"type": "limited", "allowed_hosts": ["api.example.com", "*.example.org", "Mixed.Case.NET."]}
    )
    allowed = {"api.example.com", "a.example.org", "deep.a.example.org", "mixed.case.net"}
    refused = {"example.com", "www.api.example.com", "example.org", "notexample.org", "evil.test", "pypi.org"}
    assert {host: policy.allows(host) for host in allowed | refused} == {
        **dict.fromkeys(allowed, True),
        **dict.fromkeys(refused, False),
    }


def test_limited_with_nothing_allows_nothing_and_unrestricted_allows_everything() -> None:
    assert not HostPolicy.from_networking({"type": "limited"}).allows("example.com")
    assert HostPolicy.from_networking({"type": "unrestricted"}).allows("example.com")
    assert HostPolicy.from_networking(None).allows("example.com")


def test_package_managers_open_the_registries() -> None:
    opened = HostPolicy.from_networking({"type": "limited", "allow_package_managers": True})
    closed = HostPolicy.from_networking({"type": "limited", "allow_package_managers": False})
    for host in ("pypi.org", "files.pythonhosted.org", "registry.npmjs.org", "deb.debian.org", "github.com"):
        assert host in PACKAGE_MANAGER_HOSTS and opened.allows(host) and not closed.allows(host)
    assert not opened.allows("evil.pypi.org.evil.test")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.9.9.9",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.170.2",
        "100.100.100.200",
        "192.0.0.192",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fd00:ec2::254",
        "fe80::1",
        "::ffff:10.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "2002:a9fe:a9fe::1",
    ],
)
def test_the_safety_blocklist_refuses_private_and_special_addresses(address: str) -> None:
    assert AddressGuard().blocked(address, 443) is not None


def test_every_address_of_this_host_is_blocked_and_public_addresses_are_not() -> None:
    guard = AddressGuard()
    for address in host_addresses():
        assert guard.blocked(str(address), 80) is not None
    for address in ("8.8.8.8", "151.101.0.223", "2606:4700::1111"):
        assert guard.blocked(address, 443) is None


def test_an_exemption_covers_exactly_one_address_and_port() -> None:
    guard = AddressGuard(exempt=frozenset({("127.0.0.1", 8080)}))
    assert guard.blocked("127.0.0.1", 8080) is None
    assert guard.blocked("127.0.0.1", 8081) is not None
    assert guard.blocked("127.0.0.2", 8080) is not None


async def test_admit_checks_the_policy_before_resolving_and_the_guard_after() -> None:
    limited = HostPolicy.from_networking({"type": "limited", "allowed_hosts": ["localhost"]})
    with pytest.raises(Refused, match="not-allowed.test is not in this environment's allowed hosts"):
        await admit(limited, AddressGuard(), "not-allowed.test", 80)
    with pytest.raises(Refused, match="localhost is blocked: 127.0.0.1 is a private"):
        await admit(limited, AddressGuard(), "LOCALHOST.", 80)
    assert await admit(limited, AddressGuard(exempt=frozenset({("127.0.0.1", 80)})), "localhost", 80) == (
        "localhost",
        "127.0.0.1",
    )
    with pytest.raises(Refused, match="is not a valid host name"):
        await admit(HostPolicy(), AddressGuard(), "user@host", 80)
