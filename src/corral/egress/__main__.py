"""``python -m corral.egress``: the egress proxy process itself, as ``EgressSupervisor`` starts it (``jail``).

It hardens itself first (``hardening``: not dumpable, its seccomp filter, never root), starts mitmproxy and
prints ``standby``; once told ``go`` on stdin it serves the control socket it inherited (``--control-fd``) and
prints ``ready`` (``proxy_process``). SIGTERM or SIGINT stop it at any point, and so does the end of its stdin:
only its supervisor holds the other end, so the end of stdin means the supervisor is gone, however it went
(kill -9 included; a parent-death signal cannot do this job, as the uid change in the jail clears it). Not a
command for people: ``corral egress`` runs the supervisor, which runs this.

Invariant: nothing here reads the environment; all it knows is on its command line or comes over the control
socket.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
from pathlib import Path

import anyio
import certifi

from corral import logs
from corral.egress import hardening
from corral.egress.addresses import AddressGuard, PrivateAllowance
from corral.egress.server import EgressServer, running_egress

_PR_SET_PDEATHSIG = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m corral.egress", description=__doc__)
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--confdir", type=Path, required=True)
    parser.add_argument("--max-connections", type=int, default=64)
    parser.add_argument("--allow-private", action="append", default=[])
    parser.add_argument("--parent-pid", type=int)
    parser.add_argument("--upstream-ca", type=Path)
    return parser


def _trusted(confdir: Path, extra: Path | None) -> Path | None:
    """The CAs trusted for intercepted upstreams: mitmproxy's usual ones and ``extra`` (None: the usual ones only),
    written into the proxy's own confdir."""
    if extra is None:
        return None
    combined = confdir / "upstream-ca.pem"
    combined.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + extra.read_bytes())
    return combined


def _die_with(parent_pid: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        raise SystemExit(0)


class _Supervisor:
    """What the proxy hears from its supervisor on stdin: ``go`` once, then nothing until the pipe ends."""

    def __init__(self) -> None:
        self.told_go = anyio.Event()

    async def listen(self, scope: anyio.CancelScope) -> None:
        """Read stdin until it ends, then cancel ``scope``: the supervisor is gone."""
        os.set_blocking(0, False)
        heard = b""
        while True:
            await anyio.wait_readable(0)
            try:
                chunk = os.read(0, 64)
            except BlockingIOError:
                continue
            if not chunk:
                scope.cancel()
                return
            heard += chunk
            if heard.endswith(b"\n"):
                self.told_go.set()

    async def go(self) -> None:
        """In standby until the supervisor says ``go``."""
        print("standby", flush=True)
        await self.told_go.wait()


async def _until_signal(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            scope.cancel()
            return


async def _serve(server: EgressServer) -> None:
    supervisor = _Supervisor()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_until_signal, tasks.cancel_scope)
        tasks.start_soon(supervisor.listen, tasks.cancel_scope)
        async with running_egress(server, hold=supervisor.go):
            print("ready", flush=True)
            await anyio.sleep_forever()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    hardening.harden()  # before anything starts a thread
    if args.parent_pid is not None:
        _die_with(args.parent_pid)
    logs.configure("auto", "WARNING")  # the server's stderr, in the format of its own lines
    control = socket.socket(fileno=args.control_fd)
    control.setblocking(False)
    guard = AddressGuard(allowance=PrivateAllowance.parse(args.allow_private))
    upstream_ca = _trusted(args.confdir, args.upstream_ca)
    server = EgressServer(
        None,
        args.confdir,
        guard=guard,
        max_connections=args.max_connections,
        control_socket=control,
        upstream_ca=upstream_ca,
    )
    anyio.run(_serve, server)


if __name__ == "__main__":
    main()
