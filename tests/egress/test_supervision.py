"""The egress as ``corral serve`` runs it (``supervised_egress``: a jailed proxy process, restarted when it dies),
attacked from inside real sandboxes:

* killing the proxy mid-request: the call fails cleanly, the proxy is back (a new generation, ready), and the
  next call — in the same sandbox, through the socket it already had — works;
* a connection flood on one sandbox's socket (several processes × thousands of connections): the proxy stays
  up, the flooding sandbox gets at most its cap, another sandbox keeps working throughout;
* a proxy that cannot start, or that hangs: requests fail within seconds with an error naming the cause.

Upstreams are loopback servers, reachable because the operator setting allows ``127.0.0.1`` (the jailed proxy
has no test-only exemption).
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from corral.config import Settings
from corral.egress.client import EgressClient
from corral.egress.layout import state_paths
from corral.egress.process import supervised_egress
from corral.egress.server import MAX_CONNECTIONS
from corral.egress.supervisor import EgressSupervisor
from corral.errors import SandboxError
from corral.sandbox.local import LocalOptions, LocalSandboxProvider
from corral.sandbox.local.sandbox import LocalSandbox
from tests.egress.conftest import via_proxy
from tests.sandbox.conftest import SMALL_IMAGE, Runner, new_spec, wait_for, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(600)]
UNRESTRICTED = {"type": "unrestricted"}


@dataclass
class Held:
    """A loopback upstream: ``/hi`` answers at once, ``/hold`` only once ``release`` is set."""

    port: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


def _handler(held: Held) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path == "/hold":
                held.arrived.set()
                held.release.wait(300)
            body = b"hi"
            try:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the proxy that carried /hold was killed meanwhile

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def held() -> Iterator[Held]:
    held = Held()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(held))
    server.daemon_threads = True
    held.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield held
    finally:
        held.release.set()
        server.shutdown()
        server.server_close()


@dataclass
class Supervised:
    supervisor: EgressSupervisor
    client: EgressClient
    provider: LocalSandboxProvider


@pytest.fixture(scope="module")
async def supervised(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Supervised]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("supervised"), egress_allow_private=("127.0.0.1/32",))
    async with AsyncExitStack() as stack:
        supervisor, client = await stack.enter_async_context(supervised_egress(settings))
        options = LocalOptions(disk_image_bytes=SMALL_IMAGE)
        provider = await stack.enter_async_context(LocalSandboxProvider(settings, client, options=options))
        yield Supervised(supervisor, client, provider)


@pytest.fixture
async def sandbox(supervised: Supervised) -> AsyncIterator[Runner]:
    started = await supervised.provider.provision(new_spec(networking=UNRESTRICTED))
    try:
        yield Runner(started)
    finally:
        await started.release()


async def test_killing_the_proxy_mid_request_fails_the_call_cleanly_and_the_next_one_works(
    supervised: Supervised, sandbox: Runner, held: Held
) -> None:
    supervisor = supervised.supervisor
    await supervisor.wait_ready()
    generation, pid = supervisor.generation, supervisor.pid
    assert pid is not None
    results: list[str] = []

    async def call() -> None:
        results.append(await sandbox.fails("bash", command=via_proxy(f"http://127.0.0.1:{held.port}/hold")))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(call)
        assert await anyio.to_thread.run_sync(held.arrived.wait, 120)
        os.kill(pid, signal.SIGKILL)
    assert results[0].startswith("curl: (52) Empty reply from server"), results
    await supervisor.wait_ready(after=generation)  # the proxy is back
    assert supervisor.pid not in (None, pid)
    assert await sandbox.ok("bash", command=via_proxy(f"http://127.0.0.1:{held.port}/hi")) == "hi"
    fresh = await supervised.provider.provision(new_spec(networking=UNRESTRICTED))
    try:
        assert await Runner(fresh).ok("bash", command=via_proxy(f"http://127.0.0.1:{held.port}/hi")) == "hi"
    finally:
        await fresh.release()


_FLOOD = r"""
import json, os, selectors, socket, sys
count, tag = int(sys.argv[1]), sys.argv[2]
connections = []
for _ in range(count):
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect("/run/corral/egress.sock")  # blocking: waits while the backlog is full
    connections.append(connection)
watch = selectors.DefaultSelector()
for connection in connections:
    connection.setblocking(False)
    watch.register(connection, selectors.EVENT_READ)
closed = 0

def report():  # how many of this process's connections the proxy has not closed (yet)
    with open(f"flood-{tag}.json.tmp", "w") as out:
        json.dump({"open": count - closed}, out)
    os.rename(f"flood-{tag}.json.tmp", f"flood-{tag}.json")

report()
while not os.path.exists("release"):
    events = watch.select(timeout=0.2)
    for key, _ in events:
        if key.fileobj.recv(1) == b"":
            watch.unregister(key.fileobj)
            closed += 1
    if events:
        report()
"""
FLOODERS, EACH = 3, 3000


async def test_a_connection_flood_on_one_sandbox_leaves_the_proxy_serving_the_others(
    supervised: Supervised, sandbox: Runner, held: Held
) -> None:
    supervisor = supervised.supervisor
    await supervisor.wait_ready()
    generation, pid = supervisor.generation, supervisor.pid
    victim = await supervised.provider.provision(new_spec(networking=UNRESTRICTED))
    workspace = supervised.provider.workspace_path(sandbox.sandbox.session_id)
    await sandbox.ok("write", file_path="flood.py", content=_FLOOD)
    flood = " & ".join(f"python3 flood.py {EACH} {n}" for n in range(FLOODERS)) + " & wait"
    ended: list[str] = []

    async def run_flood() -> None:
        ended.append(await sandbox.ok("bash", command=flood, timeout_ms=500_000))

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(run_flood)
            reports = [workspace / f"flood-{n}.json" for n in range(FLOODERS)]

            def capped() -> bool:  # the proxy closed at the door all but its cap of the 9,000 connections
                if not all(report.exists() for report in reports):
                    return False
                return sum(json.loads(report.read_text())["open"] for report in reports) <= MAX_CONNECTIONS

            await wait_until(lambda: capped() or bool(ended), seconds=300)
            assert not ended, ended  # the flooders are still holding what the proxy let through
            for _ in range(3):  # while the flood holds its connections, another sandbox is served
                answer = await Runner(victim).ok("bash", command=via_proxy(f"http://127.0.0.1:{held.port}/hi"))
                assert answer == "hi"
            (workspace / "release").write_text("")
        assert (supervisor.generation, supervisor.pid) == (generation, pid)  # never restarted
        assert await sandbox.ok("bash", command=via_proxy(f"http://127.0.0.1:{held.port}/hi")) == "hi"
    finally:
        await victim.release()


_CONNECT = "python3 -c \"import socket; socket.socket(socket.AF_UNIX).connect('/run/corral/egress.sock')\""


async def test_a_closed_channel_refuses_connections_at_once_whatever_the_proxy_does(supervised: Supervised) -> None:
    supervisor, client = supervised.supervisor, supervised.client
    started = await supervised.provider.provision(new_spec(networking=UNRESTRICTED))
    try:
        assert isinstance(started, LocalSandbox)
        channel = started.name
        assert channel in await client.ping()
        await supervisor.wait_ready()
        assert supervisor.pid is not None
        os.kill(supervisor.pid, signal.SIGSTOP)
        try:
            await client.close(channel)  # what releasing the sandbox does first; the frozen proxy hears nothing
            assert "ConnectionRefusedError" in await Runner(started).fails("bash", command=_CONNECT)
        finally:
            os.kill(supervisor.pid, signal.SIGCONT)

        async def forgotten() -> bool:  # the proxy notices the socket went away and stops serving it
            return channel not in await client.ping()

        await wait_for(forgotten, seconds=60)
    finally:
        await started.release()


async def test_a_channel_closed_behind_the_proxys_back_is_dropped_once_it_notices(supervised: Supervised) -> None:
    supervisor = supervised.supervisor
    await supervisor.wait_ready()
    assert supervisor.pid is not None
    other = EgressClient(supervisor.control_path, readiness=supervisor, reply_timeout=2.0)
    await other.open("sbx-unheard", UNRESTRICTED, "sesn_unheard")
    os.kill(supervisor.pid, signal.SIGSTOP)
    try:
        with pytest.raises(SandboxError, match="no answer within 2 s"):
            await other.ping()  # the client gives up on this connection: the close below is never sent
        await other.close("sbx-unheard")
    finally:
        os.kill(supervisor.pid, signal.SIGCONT)

    async def dropped() -> bool:
        return "sbx-unheard" not in await supervised.client.ping()

    await wait_for(dropped, seconds=60)
    await other.aclose()


async def test_a_hung_proxy_fails_requests_within_seconds(supervised: Supervised) -> None:
    supervisor = supervised.supervisor
    await supervisor.wait_ready()
    assert supervisor.pid is not None
    impatient = EgressClient(supervisor.control_path, readiness=supervisor, reply_timeout=2.0)
    os.kill(supervisor.pid, signal.SIGSTOP)
    try:
        with pytest.raises(SandboxError, match=r"the egress proxy is unreachable \(no answer within 2 s\)"):
            await impatient.ping()
    finally:
        os.kill(supervisor.pid, signal.SIGCONT)
    await impatient.ping()
    await impatient.aclose()


async def test_a_proxy_that_cannot_start_fails_requests_at_once_and_recovers(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    confdir = state_paths(tmp_path)[1]
    confdir.parent.mkdir(parents=True)
    confdir.write_text("not a directory")
    async with supervised_egress(settings) as (supervisor, client):
        with pytest.raises(SandboxError, match=r"the egress proxy is not running \(it failed to start 3 times"):
            await client.open("sbx-broken", UNRESTRICTED, "sesn_broken")
        assert not (supervisor.control_path.parent / "sbx-broken.sock").exists()
        confdir.unlink()
        await wait_until(lambda: supervisor.ready, seconds=120)
        opened = await client.open("sbx-fixed", UNRESTRICTED, "sesn_fixed")
        assert await anyio.Path(opened.socket_path).exists()
