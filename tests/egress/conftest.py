"""Fixtures of the egress tests: loopback "upstream" servers on the host (plain HTTP and TLS), a real egress
proxy (mitmproxy) that exempts exactly those upstreams from its safety blocklist, and a real local sandbox
provider whose sandboxes reach the proxy through their egress channels.

The exemption goes through ``AddressGuard(exempt=...)``, a constructor argument no configuration reaches.
"""

from __future__ import annotations

import datetime
import http.server
import json
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from corral.config import Settings
from corral.egress.addon import EgressRequest
from corral.egress.client import EgressClient
from corral.egress.layout import state_paths
from corral.egress.policy import AddressGuard
from corral.egress.server import EgressServer, running_egress
from corral.sandbox.local import LocalOptions, LocalSandboxProvider
from tests.sandbox.conftest import Runner, new_spec


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Upstream:
    port: int
    tls_port: int
    cert_pem: str
    requests: list[dict[str, Any]] = field(default_factory=lambda: list[dict[str, Any]]())
    tls_connections: list[str] = field(default_factory=lambda: list[str]())


def _handler(upstream: Upstream) -> type[http.server.BaseHTTPRequestHandler]:
    class Echo(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while (size := int(self.rfile.readline().strip(), 16)) > 0:
                    data += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
                return data
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _answer(self) -> None:
            seen = {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": ""}
            seen["body"] = self._body().decode(errors="replace")
            upstream.requests.append(seen)
            payload = json.dumps(seen).encode()
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(payload), 100):
                piece = payload[start : start + 100]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Echo


def _certificate() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    cert, key = _certificate()
    directory = tmp_path_factory.mktemp("tls")
    (directory / "cert.pem").write_bytes(cert)
    (directory / "key.pem").write_bytes(key)
    upstream = Upstream(0, 0, cert.decode())
    plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream))
    secure = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    context.sni_callback = lambda sock, name, ctx: upstream.tls_connections.append(str(name)) and None
    secure.socket = context.wrap_socket(secure.socket, server_side=True)
    upstream.port, upstream.tls_port = plain.server_address[1], secure.server_address[1]
    servers = [plain, secure]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield upstream
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@dataclass
class Egress:
    server: EgressServer
    provider: LocalSandboxProvider
    hook_calls: list[EgressRequest]


async def _mark_session(request: EgressRequest) -> None:
    """The per-request hook of the tests: records the call and tags the request with the session."""
    request.flow.request.headers["X-Corral-Session"] = request.session_id or "-"


@pytest.fixture(scope="module")
async def egress(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Egress]:
    data_dir = tmp_path_factory.mktemp("egress")
    calls: list[EgressRequest] = []

    async def hook(request: EgressRequest) -> None:
        calls.append(request)
        await _mark_session(request)

    exempt = frozenset({("127.0.0.1", upstream.port), ("127.0.0.1", upstream.tls_port)})
    server = EgressServer(*state_paths(data_dir), guard=AddressGuard(exempt=exempt), hooks=[hook])
    async with running_egress(server):
        client = EgressClient(server.control_path)
        options = LocalOptions(disk_image_bytes=8 * 1024**3)
        async with LocalSandboxProvider(Settings(data_dir=data_dir), client, options=options) as provider:
            yield Egress(server, provider, calls)
        await client.aclose()


@pytest.fixture
async def limited_to_loopback(egress: Egress) -> AsyncIterator[Runner]:
    """A sandbox whose environment allows only ``127.0.0.1`` and ``localhost``."""
    networking = {"type": "limited", "allowed_hosts": ["127.0.0.1", "localhost"]}
    sandbox = await egress.provider.provision(new_spec(networking=networking))
    try:
        yield Runner(sandbox)
    finally:
        await sandbox.release()


@pytest.fixture
async def unrestricted(egress: Egress) -> AsyncIterator[Runner]:
    sandbox = await egress.provider.provision(new_spec(networking={"type": "unrestricted"}))
    try:
        yield Runner(sandbox)
    finally:
        await sandbox.release()


def via_proxy(url: str, *options: str) -> str:
    """curl through the sandbox's proxy even for loopback names (which NO_PROXY would otherwise exempt)."""
    extra = " ".join(options)
    return f"curl -sS -m 30 --noproxy '' -x http://127.0.0.1:3128 {extra} '{url}'"
