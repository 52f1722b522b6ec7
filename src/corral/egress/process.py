"""The egress as corral runs it: a supervised proxy process, and the client sandbox providers use.

It runs apart from the API and the harness so that what it will hold later (credentials it injects) never
lives in the process that runs the agent loop, and it runs as little as possible (``jail``, ``hardening``).
``open_egress`` starts an ``EgressSupervisor`` for ``settings.data_dir`` in a task group on the caller's
stack and returns the ``EgressClient`` its sandbox provider uses; requests wait for the proxy to be ready,
so starting the server is not delayed by it. ``corral egress`` runs the same thing in the foreground.

Invariants: closing the stack always completes (the supervisor stops its process within seconds, whatever
the process does); the proxy's settings come from ``Settings`` and reach it on its command line.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio

from corral.config import Settings
from corral.egress import jail
from corral.egress.addresses import AddressGuard, PrivateAllowance
from corral.egress.client import EgressClient
from corral.egress.credentials import SecretSource
from corral.egress.layout import CA_CERT, state_paths
from corral.egress.supervisor import EgressSupervisor
from corral.errors import ConfigError, ErrorCode, SandboxError


def address_guard(settings: Settings) -> AddressGuard:
    """The address rule with the operator's ``CORRAL_EGRESS_ALLOW_PRIVATE``; ``ConfigError`` if it is not valid."""
    try:
        return AddressGuard(allowance=PrivateAllowance.parse(settings.egress_allow_private))
    except ValueError as exc:
        raise ConfigError(f"CORRAL_EGRESS_ALLOW_PRIVATE: {exc}") from None


def _supervisor(settings: Settings) -> EgressSupervisor:
    address_guard(settings)  # refuse a bad setting here, not in the proxy process
    if settings.egress_max_connections < 1:
        raise ConfigError("CORRAL_EGRESS_MAX_CONNECTIONS: a sandbox needs at least one connection")
    if jail.privileged() and (missing := jail.missing_tools()):
        raise SandboxError(
            f"the egress proxy runs under its own uid through {' and '.join(missing)}, which is not installed",
            code=ErrorCode.SANDBOX_PROVISION_FAILED,
        )
    socket_dir, confdir = state_paths(settings.data_dir)
    return EgressSupervisor(
        socket_dir,
        confdir,
        allow_private=settings.egress_allow_private,
        max_connections=settings.egress_max_connections,
        upstream_ca=settings.egress_upstream_ca,
    )


@asynccontextmanager
async def supervised_egress(
    settings: Settings, secrets: SecretSource | None = None
) -> AsyncGenerator[tuple[EgressSupervisor, EgressClient]]:
    """The supervised proxy and its client for the duration of the block (``secrets``: the sessions'
    credentials to inject, ``EgressClient``)."""
    supervisor = _supervisor(settings)
    ca_cert = supervisor.confdir / CA_CERT
    client = EgressClient(supervisor.control_path, readiness=supervisor, secrets=secrets, ca_cert=ca_cert)
    supervisor.on_ready = client.resync
    async with anyio.create_task_group() as tasks:
        await tasks.start(supervisor.run)
        try:
            yield supervisor, client
        finally:
            tasks.cancel_scope.cancel()
            await client.aclose()


async def open_egress(
    stack: AsyncExitStack, settings: Settings, secrets: SecretSource | None = None
) -> EgressClient | None:
    """Start the supervised egress for ``settings.data_dir`` on ``stack`` (None when egress is disabled)."""
    if not settings.egress_enabled:
        return None
    _, client = await stack.enter_async_context(supervised_egress(settings, secrets))
    return client


async def run_egress(settings: Settings) -> None:
    """``corral egress``: the supervised proxy in the foreground, until SIGTERM or SIGINT."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with supervised_egress(settings) as (supervisor, _):
            print(f"corral: egress proxy on {supervisor.control_path}", file=sys.stderr, flush=True)
            async for _ in signals:
                break
