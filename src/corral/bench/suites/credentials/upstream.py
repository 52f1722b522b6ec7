"""A loopback HTTPS "upstream" for the ``injection`` arm: a throwaway self-signed certificate for ``localhost`` and
``127.0.0.1`` (made with ``cryptography``), ``http.server`` over ``ssl`` in threads of this process.

It answers every GET with the same 300-byte body, with status 200 when the request's ``Authorization`` header is
the one ``expected`` for the URL's first path segment, else 403: the arm's proof that the secret was injected (or
that the placeholder passed as sent). Responses keep the connection (HTTP/1.1) and go out without Nagle's delay.

Invariants: every accepted connection is counted (``connections``) before its TLS handshake; the server is shut
down and its socket closed when ``serving`` exits.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import ssl
import threading
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.to_thread
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

BODY = b"ok\n" * 100


@dataclass
class Upstream:
    port: int
    cert_pem: str
    #: first path segment → the ``Authorization`` header the upstream answers 200 to
    expected: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    #: one entry per connection accepted (``list.append`` is atomic across the handler threads)
    connections: list[None] = field(default_factory=lambda: list[None]())


def _certificate() -> tuple[bytes, bytes]:
    """A throwaway self-signed certificate (PEM) for ``localhost`` and ``127.0.0.1``, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), pem


def _handler(upstream: Upstream) -> type[http.server.BaseHTTPRequestHandler]:
    class Check(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: later transfers reuse the connection
        #: headers and body are two writes: with Nagle, the body would wait for the client's delayed ACK (~40 ms)
        disable_nagle_algorithm = True

        def setup(self) -> None:
            upstream.connections.append(None)
            super().setup()

        def do_GET(self) -> None:
            wanted = upstream.expected.get(self.path.split("/")[1])
            self.send_response(200 if wanted is not None and self.headers.get("Authorization") == wanted else 403)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Check


def _serve_tls(directory: Path, upstream: Upstream) -> http.server.ThreadingHTTPServer:
    cert, key = _certificate()
    (directory / "upstream-cert.pem").write_bytes(cert)
    (directory / "upstream-key.pem").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "upstream-cert.pem", directory / "upstream-key.pem")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream))
    # the handshake in the connection's own thread, not in the accepting one: no connection waits for another's
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    upstream.port, upstream.cert_pem = int(server.server_address[1]), cert.decode()
    threading.Thread(target=server.serve_forever, name="bench-tls-upstream", daemon=True).start()
    return server


@asynccontextmanager
async def serving(directory: Path) -> AsyncGenerator[Upstream]:
    upstream = Upstream(0, "")
    server = await anyio.to_thread.run_sync(_serve_tls, directory, upstream)
    try:
        yield upstream
    finally:
        await anyio.to_thread.run_sync(server.shutdown)
        server.server_close()
