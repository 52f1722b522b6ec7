"""Credential injection, attacked from inside real sandboxes (``environment_variable`` credentials, spec §11.3).

A canary secret sits in the session's credentials; the sandbox gets only a placeholder. The proxy runs with
the loopback upstreams exempted and trusting their test CA (``upstream_ca``); the sandboxes trust the proxy's
CA through the bundle mounted for sessions with credentials. After each test, the tool results and every file
under the data dir (the tool journal, the proxy's state) are scanned for the canary in clear.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from corral.config import Settings
from corral.egress.client import EgressClient
from corral.egress.credentials import SessionSecret
from corral.egress.injection import PREFIX
from corral.egress.layout import CA_CERT, state_paths
from corral.egress.policy import AddressGuard
from corral.egress.server import EgressServer, running_egress
from corral.sandbox.local import LocalOptions, LocalSandboxProvider
from tests.egress.conftest import Upstream, via_proxy
from tests.sandbox.conftest import Runner, new_spec, text_of

pytestmark = pytest.mark.anyio
LOOPBACK = {"type": "limited", "allowed_hosts": ["localhost", "127.0.0.1"]}


@dataclass
class Injecting:
    provider: LocalSandboxProvider
    data_dir: Path
    #: session id → its credentials (what the composition root's ``SecretSource`` answers)
    credentials: dict[str, list[SessionSecret]]
    results: list[str]

    async def sandbox(self, credentials: Sequence[SessionSecret], networking: dict[str, Any]) -> Runner:
        spec = new_spec(networking=networking)
        self.credentials[spec.session_id] = list(credentials)
        return Runner(await self.provider.provision(spec))

    async def run(self, runner: Runner, command: str) -> str:
        result = await runner("bash", command=command)
        text = text_of(result)
        self.results.append(text)
        assert not result.is_error, text
        return text


def canary() -> str:
    return f"cnry_{secrets.token_hex(16)}"


def secret(name: str, value: str, *, hosts: tuple[str, ...] | None, header: bool = True, body: bool = False) -> Any:
    return SessionSecret(f"vlt_{name}", f"vcrd_{name}", name, value, hosts, header, body)


@pytest.fixture(scope="module")
async def injecting(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Injecting]:
    data_dir = tmp_path_factory.mktemp("inject")
    trusted = data_dir / "upstream-ca.pem"
    trusted.write_text(upstream.cert_pem)
    credentials: dict[str, list[SessionSecret]] = {}

    async def source(session_id: str) -> list[SessionSecret]:
        return credentials.get(session_id, [])

    exempt = frozenset({("127.0.0.1", upstream.port), ("127.0.0.1", upstream.tls_port)})
    socket_dir, confdir = state_paths(data_dir)
    server = EgressServer(socket_dir, confdir, guard=AddressGuard(exempt=exempt), upstream_ca=trusted)
    async with running_egress(server):
        client = EgressClient(server.control_path, secrets=source, ca_cert=confdir / CA_CERT)
        options = LocalOptions(disk_image_bytes=8 * 1024**3)
        async with LocalSandboxProvider(Settings(data_dir=data_dir), client, options=options) as provider:
            yield Injecting(provider, data_dir, credentials, [])
        await client.aclose()


@pytest.fixture
def clean(injecting: Injecting) -> Any:
    """The canaries a test plants; afterwards none is in any tool result or any file under the data dir."""
    planted: list[str] = []
    yield planted
    for value in planted:
        assert all(value not in text for text in injecting.results)
        for path in injecting.data_dir.rglob("*"):
            if path.is_file() and not path.is_symlink() and path.stat().st_size < 64 * 1024 * 1024:
                assert value.encode() not in path.read_bytes(), path


def _echoed(text: str) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(text[text.index("{") :]))


def _header(seen: dict[str, Any], name: str) -> str:
    """A header of an echoed request (HTTP/2 between curl and the proxy lowercases names)."""
    headers = cast(dict[str, str], seen["headers"])
    return next(value for key, value in headers.items() if key.lower() == name.lower())


def _last(upstream: Upstream, path: str) -> dict[str, Any]:
    return next(seen for seen in reversed(upstream.requests) if seen["path"].startswith(path))


async def test_only_the_placeholder_is_inside_the_sandbox(injecting: Injecting, clean: list[str]) -> None:
    value = canary()
    clean.append(value)
    runner = await injecting.sandbox([secret("API_TOKEN", value, hosts=("localhost",))], LOOPBACK)
    try:
        placeholder = (await injecting.run(runner, "printenv API_TOKEN")).strip()
        assert placeholder.startswith(PREFIX) and len(placeholder) == len(PREFIX) + 32
        sweep = (  # the pattern is assembled at run time, so that no command line holds it
            "P=cnr; P=${P}y_; env; printenv; for p in /proc/[0-9]*; do cat $p/environ $p/cmdline 2>/dev/null; echo; "
            'done; grep -rIal "$P" / --exclude-dir=proc --exclude-dir=sys 2>/dev/null; echo swept'
        )
        out = await injecting.run(runner, sweep)
        assert "swept" in out and placeholder in out and "cnry_" not in out
        bundle = await injecting.run(
            runner, "grep -c 'BEGIN CERTIFICATE' $CURL_CA_BUNDLE; grep -c PRIVATE $SSL_CERT_FILE || true"
        )
        assert bundle.split()[-1] == "0"  # the CA's certificate is trusted; no key is anywhere in the bundle
    finally:
        await runner.sandbox.release()


async def test_injected_in_headers_only_towards_allowed_hosts(
    injecting: Injecting, upstream: Upstream, clean: list[str]
) -> None:
    value = canary()
    clean.append(value)
    runner = await injecting.sandbox([secret("API_TOKEN", value, hosts=("localhost",))], LOOPBACK)
    try:
        header = '-H "Authorization: Bearer $API_TOKEN"'
        # allowed host, over TLS terminated by the proxy (curl verifies it against the mounted bundle)
        out = await injecting.run(runner, via_proxy(f"https://localhost:{upstream.tls_port}/tls", header))
        assert _header(_last(upstream, "/tls"), "Authorization") == f"Bearer {value}"
        reflected = _header(_echoed(out), "Authorization")  # the echo reflects it: masked on the way back
        assert reflected == "Bearer " + "*" * len(value)
        # allowed host over plain HTTP
        await injecting.run(runner, via_proxy(f"http://localhost:{upstream.port}/plain", header))
        assert _header(_last(upstream, "/plain"), "Authorization") == f"Bearer {value}"
        # a host the environment allows but the credential does not: the placeholder arrives literally
        placeholder = (await injecting.run(runner, "printenv API_TOKEN")).strip()
        await injecting.run(runner, via_proxy(f"http://127.0.0.1:{upstream.port}/other", header))
        assert _header(_last(upstream, "/other"), "Authorization") == f"Bearer {placeholder}"
        # in the URL (path and query), even towards the allowed host: literally
        url = f"https://localhost:{upstream.tls_port}/url/{placeholder}?key={placeholder}"
        await injecting.run(runner, via_proxy(url, header))
        assert _last(upstream, "/url/")["path"] == f"/url/{placeholder}?key={placeholder}"
        # the body is not an enabled location of this credential: literally
        await injecting.run(runner, via_proxy(f"https://localhost:{upstream.tls_port}/body", '-d "t=$API_TOKEN"'))
        assert _last(upstream, "/body")["body"] == f"t={placeholder}"
    finally:
        await runner.sandbox.release()


async def test_body_injection_when_enabled(injecting: Injecting, upstream: Upstream, clean: list[str]) -> None:
    value = canary()
    clean.append(value)
    credential = secret("BODY_TOKEN", value, hosts=("*.localhost", "localhost"), header=False, body=True)
    runner = await injecting.sandbox([credential], LOOPBACK)
    try:
        placeholder = (await injecting.run(runner, "printenv BODY_TOKEN")).strip()
        command = via_proxy(
            f"https://localhost:{upstream.tls_port}/form", '-d "t=$BODY_TOKEN"', '-H "X-T: $BODY_TOKEN"'
        )
        out = await injecting.run(runner, command)
        seen = _last(upstream, "/form")
        assert seen["body"] == f"t={value}" and _header(seen, "X-T") == placeholder  # headers are not enabled
        assert _echoed(out)["body"] == "t=" + "*" * len(value)
    finally:
        await runner.sandbox.release()


async def test_tls_to_hosts_without_credentials_passes_through(injecting: Injecting, upstream: Upstream) -> None:
    runner = await injecting.sandbox([secret("API_TOKEN", canary(), hosts=("localhost",))], LOOPBACK)
    try:
        # 127.0.0.1 is no host of the credential: the upstream's own (test-CA) certificate reaches curl untouched
        out = await injecting.run(
            runner, via_proxy(f"https://127.0.0.1:{upstream.tls_port}/through", "-k", "-w '%{certs}'")
        )
        body = "".join(line for line in upstream.cert_pem.splitlines() if "-----" not in line)
        assert body in "".join(out.split())  # the certificate curl saw is the upstream's own
    finally:
        await runner.sandbox.release()


async def test_one_sessions_placeholder_is_nothing_to_another(
    injecting: Injecting, upstream: Upstream, clean: list[str]
) -> None:
    value = canary()
    clean.append(value)
    first = await injecting.sandbox([secret("API_TOKEN", value, hosts=("localhost",))], LOOPBACK)
    second = await injecting.sandbox([], LOOPBACK)
    try:
        placeholder = (await injecting.run(first, "printenv API_TOKEN")).strip()
        command = via_proxy(f"http://localhost:{upstream.port}/stolen", f'-H "Authorization: {placeholder}"')
        await injecting.run(second, command)
        assert _header(_last(upstream, "/stolen"), "Authorization") == placeholder
    finally:
        await first.sandbox.release()
        await second.sandbox.release()


async def test_a_credential_whose_hosts_the_environment_refuses_is_not_injected(
    injecting: Injecting, clean: list[str]
) -> None:
    value = canary()
    clean.append(value)
    runner = await injecting.sandbox([secret("FAR_TOKEN", value, hosts=("api.example.com",))], LOOPBACK)
    try:
        assert (await injecting.run(runner, "printenv FAR_TOKEN || echo unset")).strip() == "unset"
    finally:
        await runner.sandbox.release()


@pytest.mark.parametrize(("scheme", "protocol"), [("https", "--http1.1"), ("https", "--http2"), ("http", "--http1.1")])
async def test_requests_on_one_kept_connection_share_one_upstream_connection(
    injecting: Injecting, upstream: Upstream, clean: list[str], scheme: str, protocol: str
) -> None:
    """More requests than mitmproxy's five connections per host, on one client connection: each is injected and
    answered, over a single upstream TLS connection when the client speaks HTTP/1.1 as the upstream does."""
    value = canary()
    clean.append(value)
    runner = await injecting.sandbox([secret("API_TOKEN", value, hosts=("localhost",))], LOOPBACK)
    try:
        before = len(upstream.tls_connections)
        port = upstream.tls_port if scheme == "https" else upstream.port
        url = f"{scheme}://localhost:{port}/kept{scheme}{protocol}/"
        options = (protocol, '-H "Authorization: Bearer $API_TOKEN"', "-w '%{http_code} %{num_connects}\\n'")
        command = via_proxy(f"{url}0", *options, "-o /dev/null")
        out = await injecting.run(runner, command + "".join(f" -o /dev/null '{url}{n}'" for n in range(1, 8)))
        assert out.split() == ["200", "1"] + ["200", "0"] * 7, out  # one connection from curl to the proxy
        seen = [r for r in upstream.requests if r["path"].startswith(f"/kept{scheme}{protocol}/")]
        assert [_header(r, "Authorization") for r in seen] == [f"Bearer {value}"] * 8
        if (scheme, protocol) == ("https", "--http1.1"):
            assert len(upstream.tls_connections) - before == 1
    finally:
        await runner.sandbox.release()
