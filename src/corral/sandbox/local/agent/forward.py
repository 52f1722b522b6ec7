"""The sandbox's only way out: ``127.0.0.1:<port>`` inside the sandbox, forwarded to the egress socket.

The sandbox has no network interface but loopback; the egress proxy's per-sandbox unix socket is bind-mounted
into it, and this forwarder re-exposes it as an ordinary HTTP proxy address for ``HTTP(S)_PROXY``.

Invariant: bytes are relayed unchanged in both directions; at most ``MAX_CONNECTIONS`` at once.
"""

from __future__ import annotations

import socket
import threading

MAX_CONNECTIONS = 64
_slots = threading.BoundedSemaphore(MAX_CONNECTIONS)


def start(port: int, socket_path: str) -> None:
    """Listen on ``127.0.0.1:port`` (before returning) and relay each connection in background threads."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(MAX_CONNECTIONS)
    threading.Thread(target=_accept, args=(server, socket_path), daemon=True).start()


def _accept(server: socket.socket, socket_path: str) -> None:
    while True:
        client, _ = server.accept()
        # a relay writes what arrives as it arrives: Nagle would hold a reply's tail for the client's delayed ACK
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not _slots.acquire(blocking=False):
            client.close()
            continue
        threading.Thread(target=_bridge, args=(client, socket_path), daemon=True).start()


def _bridge(client: socket.socket, socket_path: str) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(socket_path)
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
    except OSError:
        pass
    finally:
        client.close()
        upstream.close()
        _slots.release()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    try:
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass
