"""The egress proxy as its own process: ``corral egress`` runs it, ``corral serve`` starts it.

It runs apart from the API and the harness so that what it will hold later (credentials it injects) never
lives in the process that runs the agent loop. ``open_egress`` starts ``corral egress`` as a child of the
calling process and returns the ``EgressClient`` its sandbox provider uses; the client waits for the proxy
to come up on first use, so starting the server is not delayed by it.

Invariants: the child dies with its parent (``PR_SET_PDEATHSIG``, checked against the expected parent pid);
closing the stack stops it (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
from anyio.abc import Process

from corral.config import Settings
from corral.egress.client import EgressClient
from corral.egress.server import EgressServer, running_egress, state_paths

_PR_SET_PDEATHSIG = 1


def _die_with(parent_pid: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        raise SystemExit(0)


async def run_egress(data_dir: Path, parent_pid: int | None = None) -> None:
    """Serve until SIGTERM or SIGINT (``corral egress``)."""
    if parent_pid is not None:
        _die_with(parent_pid)
    server = EgressServer(*state_paths(data_dir))
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with running_egress(server):
            print(f"corral: egress proxy on {server.control_path}", file=sys.stderr, flush=True)
            async for _ in signals:
                break


async def _stop(process: Process) -> None:
    if process.returncode is None:
        process.terminate()
        with anyio.move_on_after(5, shield=True):
            await process.wait()
    if process.returncode is None:
        process.kill()
        with anyio.CancelScope(shield=True):
            await process.wait()


async def open_egress(stack: AsyncExitStack, settings: Settings) -> EgressClient | None:
    """Start ``corral egress`` for ``settings.data_dir`` (None when egress is disabled)."""
    if not settings.egress_enabled:
        return None
    argv = [sys.executable, "-m", "corral", "egress", "--data-dir", str(settings.data_dir.resolve())]
    argv += ["--parent-pid", str(os.getpid())]
    process = await anyio.open_process(argv, stdin=subprocess.DEVNULL, stdout=None, stderr=None)
    stack.push_async_callback(_stop, process)
    client = EgressClient(state_paths(settings.data_dir)[0] / "control.sock", connect_timeout=120.0)
    stack.push_async_callback(client.aclose)
    return client
