"""A loopback webhook receiver: a real HTTP server that records every POST (headers and raw body) in a queue, and can
hold requests open until released (to have a delivery in flight when its sender is killed)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    url: str
    received: queue.Queue[Received] = field(default_factory=lambda: queue.Queue[Received]())
    holding: threading.Event = field(default_factory=threading.Event)  # set: hold requests until `release` is set
    release: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)
    status: int = 204  # what every answer says

    def next(self, timeout: float = 60.0) -> Received:
        return self.received.get(timeout=timeout)


@contextmanager
def receiver() -> Generator[Receiver]:
    made: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            me = made[0]
            body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
            if me.holding.is_set():
                me.held.set()
                me.release.wait(timeout=60)
                return  # answer nothing: the attempt is in flight when the sender dies
            me.received.put(Received({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(me.status)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    made.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield made[0]
    finally:
        made[0].release.set()
        server.shutdown()
        server.server_close()
