"""The egress proxy end to end: code in a real sandbox → its egress channel → mitmproxy → a loopback upstream.

Covers: allowed hosts reachable (plain HTTP, chunked bodies both ways, CONNECT + TLS); refusals answered 403
naming the host; the safety blocklist under ``unrestricted`` (metadata, private, loopback, this host, IPv6
forms, names resolving to loopback); CONNECT and Host tricks (Host header, userinfo, SNI mismatch); no path
around the proxy; only channel connections are served; the per-request hook sees the session.
"""

from __future__ import annotations

import json

import anyio
import pytest

from corral.egress.policy import host_addresses
from corral.sandbox.local.sandbox import LocalSandbox
from tests.egress.conftest import Egress, Upstream, via_proxy
from tests.harness.helpers import eventually
from tests.sandbox.conftest import Runner, new_spec

pytestmark = pytest.mark.anyio

_TLS_PROBE = """
import socket, ssl, sys
host, port, sni = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", 3128))
s.sendall(f"CONNECT {host}:{port} HTTP/1.1\\r\\nHost: {host}:{port}\\r\\n\\r\\n".encode())
print(s.recv(4096).split(b"\\r\\n")[0].decode())
ctx = ssl.create_default_context(cafile="upstream.pem")
ctx.check_hostname = sni == "localhost"
try:
    tls = ctx.wrap_socket(s, server_hostname=sni)
    tls.sendall(f"GET /over-tls HTTP/1.1\\r\\nHost: {sni}\\r\\nConnection: close\\r\\n\\r\\n".encode())
    print(tls.recv(4096).split(b"\\r\\n")[0].decode())
except (ssl.SSLError, OSError) as exc:
    print("tls failed:", type(exc).__name__)
"""


async def test_an_allowed_host_is_reachable_through_the_proxy(limited_to_loopback: Runner, upstream: Upstream) -> None:
    seen = json.loads(await limited_to_loopback.ok("bash", command=via_proxy(f"http://127.0.0.1:{upstream.port}/hi")))
    assert (seen["method"], seen["path"], seen["headers"]["Host"]) == ("GET", "/hi", f"127.0.0.1:{upstream.port}")


async def test_chunked_bodies_cross_the_proxy_both_ways(limited_to_loopback: Runner, upstream: Upstream) -> None:
    url = f"http://localhost:{upstream.port}/upload"
    command = via_proxy(url, "-H 'Transfer-Encoding: chunked'", "--data-binary @-")
    seen = json.loads(await limited_to_loopback.ok("bash", command=f"seq 1 2000 | {command}"))
    assert seen["body"] == "".join(f"{n}\n" for n in range(1, 2001))


async def test_connect_and_tls_to_an_allowed_host_pass_through_untouched(
    limited_to_loopback: Runner, upstream: Upstream
) -> None:
    await limited_to_loopback.ok("write", file_path="upstream.pem", content=upstream.cert_pem)
    await limited_to_loopback.ok("write", file_path="probe.py", content=_TLS_PROBE)
    out = await limited_to_loopback.ok("bash", command=f"python3 probe.py localhost {upstream.tls_port} localhost")
    assert out == "HTTP/1.1 200 Connection established\nHTTP/1.1 200 OK"


async def test_a_blocked_host_gets_a_403_that_names_it(limited_to_loopback: Runner) -> None:
    answer = await limited_to_loopback.ok("bash", command="curl -sS -m 10 -w ' %{http_code}' http://example.org/path")
    assert answer == "corral egress refused this request: example.org is not in this environment's allowed hosts\n 403"
    tunnel = await limited_to_loopback.fails("bash", command="curl -sS -m 10 https://example.org/")
    assert "CONNECT tunnel failed, response 403" in tunnel


async def test_the_safety_blocklist_holds_under_unrestricted(unrestricted: Runner, upstream: Upstream) -> None:
    own = next(str(a) for a in host_addresses() if not a.is_loopback and a.version == 4)
    targets = {
        "http://169.254.169.254/latest/meta-data/": "169.254.169.254 is a private, loopback, link-local",
        "http://100.100.100.200/": "100.100.100.200 is a private",
        "http://10.1.2.3/": "10.1.2.3 is a private",
        "http://192.168.0.1/": "192.168.0.1 is a private",
        f"http://127.0.0.1:{upstream.port + 1}/": "127.0.0.1 is a private",
        f"http://localhost:{upstream.port + 1}/": "localhost is blocked: 127.0.0.1 is a private",
        "http://[::1]/": "::1 is a private",
        "http://[::ffff:127.0.0.1]/": "blocked: 127.0.0.1 is a private",
        "http://[fd00:ec2::254]/": "fd00:ec2::254 is a private",
        f"http://{own}/": f"{own} is an address of the corral host",
    }
    for url, reason in targets.items():
        answer = await unrestricted.ok("bash", command=via_proxy(url, "-w ' %{http_code}'"))
        assert reason in answer and answer.endswith(" 403"), (url, answer)
    tunnel = await unrestricted.fails("bash", command=via_proxy("https://169.254.169.254/"))
    assert "CONNECT tunnel failed, response 403" in tunnel


async def test_host_header_and_userinfo_tricks_are_refused(limited_to_loopback: Runner, upstream: Upstream) -> None:
    base = f"http://127.0.0.1:{upstream.port}"
    fronted = await limited_to_loopback.ok("bash", command=via_proxy(f"{base}/x", "-H 'Host: evil.test'"))
    assert fronted == "corral egress refused this request: the request names evil.test but goes to 127.0.0.1"
    tunneled = await limited_to_loopback.ok("bash", command=via_proxy(f"{base}/x", "-p", "-H 'Host: evil.test'"))
    assert "the request names evil.test but goes to 127.0.0.1" in tunneled
    userinfo = await limited_to_loopback.ok("bash", command=via_proxy(f"http://127.0.0.1:{upstream.port}@evil.test/"))
    assert "evil.test is not in this environment's allowed hosts" in userinfo
    dotted = json.loads(await limited_to_loopback.ok("bash", command=via_proxy(f"http://LOCALHOST.:{upstream.port}/")))
    assert dotted["path"] == "/"
    assert not any(r["headers"].get("Host") == "evil.test" for r in upstream.requests)


async def test_a_tls_server_name_other_than_the_connect_host_is_refused(
    limited_to_loopback: Runner, upstream: Upstream
) -> None:
    await limited_to_loopback.ok("write", file_path="upstream.pem", content=upstream.cert_pem)
    await limited_to_loopback.ok("write", file_path="probe.py", content=_TLS_PROBE)
    before = len(upstream.tls_connections)
    out = await limited_to_loopback.ok("bash", command=f"python3 probe.py 127.0.0.1 {upstream.tls_port} evil.test")
    established, outcome = out.splitlines()
    assert established == "HTTP/1.1 200 Connection established" and outcome.startswith("tls failed: ")
    assert upstream.tls_connections[before:] == []


async def test_there_is_no_way_around_the_proxy(limited_to_loopback: Runner, upstream: Upstream) -> None:
    direct = await limited_to_loopback.fails(
        "bash", command=f"curl -sS -m 5 --noproxy '*' http://127.0.0.1:{upstream.port}/"
    )
    assert "Couldn't connect to server" in direct
    dns = await limited_to_loopback.fails(
        "bash", command="python3 -c \"import socket; socket.getaddrinfo('pypi.org', 443)\""
    )
    assert "socket.gaierror" in dns
    udp = "python3 -c \"import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))\""
    assert "Network is unreachable" in await limited_to_loopback.fails("bash", command=udp)


async def test_the_proxy_port_serves_only_sandbox_channels(egress: Egress, upstream: Upstream) -> None:
    stream = await anyio.connect_tcp("127.0.0.1", egress.server.proxy_port)
    async with stream:
        await stream.send(f"GET http://127.0.0.1:{upstream.port}/sneak HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        answer = await stream.receive()
    assert answer.startswith(b"HTTP/1.1 403") and b"did not come through a sandbox egress channel" in answer


async def test_the_request_hook_sees_the_session_even_after_a_warm_claim(egress: Egress, upstream: Upstream) -> None:
    networking = {"type": "limited", "allowed_hosts": ["127.0.0.1"]}
    shape = {"environment_id": "env_warm_net", "networking": networking, "warm_pool_size": 1}
    first = await egress.provider.provision(new_spec(**shape))
    await first.release()
    spec = new_spec(**shape)
    await eventually(lambda: egress.provider.warm_ready(spec) > 0)  # the pool has no feed to wait on
    claimed = await egress.provider.provision(spec)
    try:
        assert isinstance(claimed, LocalSandbox)
        seen = json.loads(await Runner(claimed).ok("bash", command=via_proxy(f"http://127.0.0.1:{upstream.port}/who")))
        assert seen["headers"]["X-Corral-Session"] == spec.session_id
        assert egress.hook_calls[-1].session_id == spec.session_id
    finally:
        await claimed.release()


async def test_a_released_sandbox_loses_its_channel(egress: Egress) -> None:
    sandbox = await egress.provider.provision(new_spec(networking={"type": "unrestricted"}))
    assert isinstance(sandbox, LocalSandbox)
    channel = sandbox.name
    assert channel in egress.server.channels.by_id
    await sandbox.release()
    assert channel not in egress.server.channels.by_id
