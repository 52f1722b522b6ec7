"""Measure the local sandbox provider and the egress proxy. Not a test: it only reports numbers.

Usage::

    .venv/bin/python tools/measure_sandbox.py            # human-readable table
    .venv/bin/python tools/measure_sandbox.py --json     # machine-readable

What is measured, in one process, through the public interfaces (needs root, bubblewrap, cgroup v1):

* ``cold_start``: ``provision`` for a new session of an environment without a warm pool (workspace subvolume,
  cgroups, bwrap, agent start and handshake), until the sandbox answers;
* ``cold_first_call``: the same plus the first ``bash true`` in the new sandbox (the agent finishes setting up
  its shell while the host sends that call);
* ``warm_claim``: ``provision`` for a new session when the environment's warm pool has a ready sandbox;
* ``bash_true``: ``execute("bash", {"command": "true"})`` round trips in one sandbox (journal included);
* ``proxy_direct`` / ``proxy_via_egress``: one HTTP GET on a fresh connection to a loopback upstream, directly
  vs through an egress channel socket and mitmproxy (the difference is the proxy's overhead per request).

Targets on the reference 2-core machine: cold start p50 < 50 ms, warm claim p50 < 5 ms, bash true p50 < 5 ms.
"""

from __future__ import annotations

import argparse
import http.server
import itertools
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import anyio.to_thread

from corral.config import Settings
from corral.egress import AddressGuard, EgressServer, running_egress, state_paths
from corral.sandbox import ProvisionSpec
from corral.sandbox.local import LocalOptions, LocalSandboxProvider

_ids = itertools.count(1)


def spec(environment: str, pool: int = 0) -> ProvisionSpec:
    return ProvisionSpec(session_id=f"sesn_m{next(_ids):06d}", environment_id=environment, warm_pool_size=pool)


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {
        "n": len(ordered),
        "p50_ms": pick(0.5),
        "p90_ms": pick(0.9),
        "p99_ms": pick(0.99),
        "mean_ms": statistics.mean(ordered) * 1000,
    }


async def timed(action: Callable[[], Awaitable[object]]) -> float:
    began = time.perf_counter()
    await action()
    return time.perf_counter() - began


async def cold_starts(provider: LocalSandboxProvider, n: int) -> tuple[list[float], list[float]]:
    """(provision, provision + a first ``bash true``): the agent finishes setting up while the first call comes."""
    ready: list[float] = []
    first: list[float] = []
    for index in range(n):
        began = time.perf_counter()
        sandbox = await provider.provision(spec("env_cold"))
        ready.append(time.perf_counter() - began)
        result = await sandbox.execute("bash", {"command": "true"}, f"toolu_first{index}")
        first.append(time.perf_counter() - began)
        assert not result.is_error, result
        await sandbox.release()
    return ready, first


async def warm_claims(provider: LocalSandboxProvider, n: int) -> list[float]:
    samples: list[float] = []
    for _ in range(n):
        request = spec("env_warm", pool=2)
        await provider.prepare(request)
        for _ in range(3000):
            if provider.warm_ready(request) >= 1:
                break
            await anyio.sleep(0.01)
        began = time.perf_counter()
        sandbox = await provider.provision(request)
        samples.append(time.perf_counter() - began)
        await sandbox.release()
    return samples


async def bash_trips(provider: LocalSandboxProvider, n: int) -> list[float]:
    sandbox = await provider.provision(spec("env_bash"))
    samples = []
    for index in range(n):
        began = time.perf_counter()
        result = await sandbox.execute("bash", {"command": "true"}, f"toolu_m{index}")
        samples.append(time.perf_counter() - began)
        assert not result.is_error, result
    await sandbox.release()
    return samples


class _Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


def _get(connect: Callable[[], socket.socket], target: str) -> None:
    with connect() as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        while sock.recv(65536):
            pass


def proxy_samples(socket_path: str, port: int, n: int) -> tuple[list[float], list[float]]:
    def direct() -> socket.socket:
        return socket.create_connection(("127.0.0.1", port))

    def via_egress() -> socket.socket:
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(socket_path)
        return sock

    plain, proxied = [], []
    for _ in range(n):
        began = time.perf_counter()
        _get(direct, "/")
        plain.append(time.perf_counter() - began)
        began = time.perf_counter()
        _get(via_egress, f"http://127.0.0.1:{port}/")
        proxied.append(time.perf_counter() - began)
    return plain, proxied


async def measure(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    port = upstream.server_address[1]
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="corral-measure-") as scratch:
        data_dir = Path(scratch)
        server = EgressServer(*state_paths(data_dir), guard=AddressGuard(exempt=frozenset({("127.0.0.1", port)})))
        async with running_egress(server):
            settings = Settings(data_dir=data_dir, egress_enabled=False)
            options = LocalOptions(disk_image_bytes=8 * 1024**3)
            async with LocalSandboxProvider(settings, options=options) as provider:
                await cold_starts(provider, 3)  # warm the page cache and the filesystem
                ready, first = await cold_starts(provider, args.starts)
                results = {
                    "cold_start": summary(ready),
                    "cold_first_call": summary(first),
                    "warm_claim": summary(await warm_claims(provider, args.claims)),
                    "bash_true": summary(await bash_trips(provider, args.trips)),
                }
            channel = await server.open_channel("measure", {"type": "unrestricted"}, "sesn_measure")
            plain, proxied = await anyio.to_thread.run_sync(
                proxy_samples, str(channel.socket_path), port, args.requests
            )
            results["proxy_direct"], results["proxy_via_egress"] = summary(plain), summary(proxied)
    upstream.shutdown()
    upstream.server_close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description="Measure the local sandbox provider and the egress proxy.")
    parser.add_argument("--starts", type=int, default=30)
    parser.add_argument("--claims", type=int, default=20)
    parser.add_argument("--trips", type=int, default=300)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = anyio.run(measure, args)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        return
    print(f"{'metric':<18}{'n':>6}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}")
    for name, row in results.items():
        print(f"{name:<18}{row['n']:>6}{row['p50_ms']:>10.2f}{row['p90_ms']:>10.2f}{row['p99_ms']:>10.2f}")


if __name__ == "__main__":
    main()
