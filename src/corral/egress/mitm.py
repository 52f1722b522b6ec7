"""mitmproxy embedded: a ``Master`` in regular forward-proxy mode on ``127.0.0.1`` and an ephemeral port.

``Embedded`` builds it with corral's addon (TLS passed through unless an addon says otherwise, connections
opened lazily, large bodies streamed), runs it, and stops it. mitmproxy keeps its CA (the per-deployment CA
that signs intercepted connections) in the confdir: ``mitmproxy-ca.pem`` holds the key and never leaves it;
``mitmproxy-ca-cert.pem`` (``CA_CERT``) is the certificate sandboxes trust.

Invariants: once ``run`` returned from its ``task_status``, ``port`` is the port mitmproxy listens on;
mitmproxy runs until ``stop``, never cut short by a cancellation once started (cancelled while starting, it
is shut down); its listener is closed first (mitmproxy
itself leaves that to the end of the process); ``stop`` waits (boundedly) for the connections to go.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, cast

import anyio
from anyio.abc import TaskStatus
from mitmproxy import options

with warnings.catch_warnings():
    # mitmproxy.addons imports ldap3, which touches pyasn1 names deprecated in pyasn1 0.6 (not our code to fix)
    warnings.simplefilter("ignore", DeprecationWarning)
    from mitmproxy.addons import core, disable_h2c, next_layer, proxyserver, tlsconfig
    from mitmproxy.master import Master

_START_SECONDS = 60.0
_DRAIN_SECONDS = 5.0


class _Ready:
    def __init__(self) -> None:
        self.event = anyio.Event()

    def running(self) -> None:
        self.event.set()


class Embedded:
    def __init__(self, addon: object, confdir: Path, upstream_ca: Path | None = None) -> None:
        self.master = Master(options.Options())
        self._ready = _Ready()
        self.port = 0
        # mitmproxy's addon registry and options are untyped (``*args``/``**kwargs``): reached through ``Any``
        registry: Any = self.master.addons
        registry.add(core.Core(), proxyserver.Proxyserver(), next_layer.NextLayer(), tlsconfig.TlsConfig())
        registry.add(disable_h2c.DisableH2C(), addon, self._ready)
        settings: Any = self.master.options
        settings.update(
            listen_host="127.0.0.1",
            listen_port=0,
            connection_strategy="lazy",
            stream_large_bodies="1m",
            confdir=str(confdir),
        )
        if upstream_ca is not None:
            settings.update(ssl_verify_upstream_trusted_ca=str(upstream_ca))

    @property
    def _server(self) -> proxyserver.Proxyserver:
        registry: Any = self.master.addons
        return cast(proxyserver.Proxyserver, registry.get("proxyserver"))

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._run)
            try:
                with anyio.fail_after(_START_SECONDS):
                    await self._ready.event.wait()
            except BaseException:
                # cancelled (or timed out) while starting: the shielded run never ends unless told to. ``_run`` has
                # begun by now (this wait yielded to it), so the exit it is told cannot be cleared by its start.
                self.master.shutdown()
                raise
            self.port = int(self._server.listen_addrs()[0][1])
            task_status.started()

    async def _run(self) -> None:
        with anyio.CancelScope(shield=True):
            try:
                await self.master.run()
            finally:
                await self._server.servers.update([])

    async def stop(self) -> None:
        """Wait (shielded, at most a few seconds) for mitmproxy's connections to go, then shut it down."""
        server: Any = self._server  # its connection table is keyed by untyped tuples
        with anyio.CancelScope(shield=True):
            for _ in range(int(_DRAIN_SECONDS / 0.01)):
                if not server.connections:
                    break
                await anyio.sleep(0.01)
        self.master.shutdown()
