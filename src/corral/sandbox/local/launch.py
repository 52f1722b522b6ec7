"""Starting one local sandbox: bubblewrap as an unprivileged host uid, every namespace, the agent inside.

The recipe (outside in): fresh cgroup v1 limits (memory, pids, cpu) joined before any sandbox code runs →
an unprivileged host uid of the session's own, no supplementary groups, no capabilities even in the bounding
set (``setpriv``) → bwrap
with new user, pid, mount, ipc, uts, net and cgroup namespaces, ``--disable-userns``, ``--die-with-parent``
and ``--new-session`` → a read-only root holding read-only ``/usr``, a few non-secret ``/etc`` files, private
``/proc`` and ``/dev``, size-capped tmpfs ``/tmp``, ``/dev/shm`` and ``/home/user``, the session's writable
``/workspace``, and read-only mounts (agent, package layer, files) → the seccomp filter (bwrap sets
``no_new_privs``) → the agent, which lowers its rlimits before serving. The network namespace has only ``lo``;
the egress socket, when there is one, is bind-mounted at ``/run/corral/egress.sock``; a session with credentials
gets the egress's CA bundle at ``CA_MOUNT`` (certificates only; the usual variables point at it) and its
credentials' placeholders as environment variables.

Invariants: bwrap waits on ``--block-fd`` until both of its processes are in the sandbox's cgroups, so nothing
in the sandbox ever runs outside its limits. bwrap's arguments (host paths of every mount's source) reach it
through a memory file (``--args``), never its command line, which the sandbox can read as ``/proc/1/cmdline``.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread
from anyio.abc import Process

from corral.errors import ErrorCode, SandboxError
from corral.sandbox.base import Limits
from corral.sandbox.local.cgroups import Cgroups
from corral.sandbox.local.layout import HOST_ETC, SANDBOX_PYTHON, Layout

BWRAP = "/usr/bin/bwrap"
SETPRIV = "/usr/bin/setpriv"
SANDBOX_UID = 1000
EGRESS_SOCKET = "/run/corral/egress.sock"
PROXY_PORT = 3128
PACKAGES = "/opt/packages"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
CA_MOUNT = "/run/corral/ca-certificates.crt"
#: the last two only with the egress's bundle (git's libcurl reads no other variable)
_CA_VARIABLES = (
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "PIP_CERT",
    "NODE_EXTRA_CA_CERTS",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
)
_AGENT = "import sys; sys.path[:0] = ['/opt/corral']; from agent.main import main; main()"
_MiB = 1024 * 1024


@dataclass(frozen=True)
class Plan:
    """Everything that makes one sandbox."""

    name: str
    uid: int
    workspace: Path
    limits: Limits
    egress_socket: str | None = None
    layer: Path | None = None
    #: (host source, absolute mount path) pairs, mounted read-only
    files: tuple[tuple[str, str], ...] = ()
    #: (host directory, absolute mount path, read-only) of directory mounts (under the disk's ``attach``, which
    #: bwrap's unprivileged uid can reach); a writable one is owned by ``uid``
    dirs: tuple[tuple[str, str, bool], ...] = ()
    #: the package layer is being built: mount it writable
    layer_writable: bool = False
    #: host paths (non-secret) also visible read-only at the same place, when they exist
    host_paths: tuple[str, ...] = ()
    #: ``(name, placeholder)`` of the session's credentials (never a secret: the egress replaces them)
    env: tuple[tuple[str, str], ...] = ()
    #: host path of the CA bundle to trust (the system's and the egress proxy's CAs), mounted at ``CA_MOUNT``
    ca_bundle: str | None = None


def failed(message: str) -> SandboxError:
    """A sandbox could not be provisioned (the message reads ``sandbox: <why>``)."""
    return SandboxError(f"sandbox: {message}", code=ErrorCode.SANDBOX_PROVISION_FAILED)


def sandbox_env(plan: Plan) -> dict[str, str]:
    path = "/usr/local/bin:/usr/bin:/bin"
    env = {"HOME": "/home/user", "USER": "user", "LANG": "C.UTF-8", "TERM": "dumb", "PS1": "", "PS2": ""}
    bundle = CA_MOUNT if plan.ca_bundle is not None else CA_BUNDLE
    env |= dict.fromkeys(_CA_VARIABLES if plan.ca_bundle is not None else _CA_VARIABLES[:4], bundle)
    env["PYTHONUNBUFFERED"] = "1"
    if plan.layer is not None:
        apt = ":".join(f"{PACKAGES}/apt/{d}" for d in ("usr/local/bin", "usr/bin", "bin", "usr/sbin", "usr/games"))
        path = f"{PACKAGES}/pip/bin:{PACKAGES}/npm/node_modules/.bin:{apt}:{path}"
        env |= {"PYTHONPATH": f"{PACKAGES}/pip", "NODE_PATH": f"{PACKAGES}/npm/node_modules"}
        env["LD_LIBRARY_PATH"] = f"{PACKAGES}/apt/usr/lib/x86_64-linux-gnu:{PACKAGES}/apt/usr/lib"
    if plan.egress_socket is not None:
        proxy = f"http://127.0.0.1:{PROXY_PORT}"
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env[name] = proxy
        env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1,::1"
    return {**dict(plan.env), "PATH": path, **env}  # a credential never overrides corral's own variables


def _mounts(layout: Layout, plan: Plan) -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for link, target in (("/bin", "usr/bin"), ("/sbin", "usr/sbin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64")):
        args += ["--symlink", target, link]
    args += ["--proc", "/proc", "--dev", "/dev"]
    tmp = max(64 * _MiB, plan.limits.memory_bytes // 2)
    for path, size in (("/tmp", tmp), ("/dev/shm", 64 * _MiB), ("/home/user", 256 * _MiB)):
        args += ["--size", str(size), "--tmpfs", path]
    for name in HOST_ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for name in ("passwd", "group", "hosts", "nsswitch.conf"):
        args += ["--ro-bind", str(layout.etc / name), f"/etc/{name}"]
    args += ["--ro-bind", str(layout.lib), "/opt/corral", "--bind", str(plan.workspace), "/workspace"]
    if plan.egress_socket is not None:
        args += ["--ro-bind", plan.egress_socket, EGRESS_SOCKET]
    if plan.ca_bundle is not None:
        args += ["--ro-bind", plan.ca_bundle, CA_MOUNT]
    if plan.layer is not None:
        args += ["--bind" if plan.layer_writable else "--ro-bind", str(plan.layer), PACKAGES]
    for source, target in plan.files:
        args += ["--ro-bind", source, target]
    for source, target, read_only in plan.dirs:
        args += ["--ro-bind" if read_only else "--bind", source, target]
    for path in plan.host_paths:
        args += ["--ro-bind-try", path, path]
    return args


def bwrap_argv(layout: Layout, plan: Plan, *, seccomp_fd: int, info_fd: int, block_fd: int) -> list[str]:
    args = [BWRAP, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"]
    args += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox"]
    args += _mounts(layout, plan)
    args += ["--remount-ro", "/", "--chdir", "/workspace", "--clearenv"]
    args += ["--setenv", "PATH", "/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8"]
    args += ["--seccomp", str(seccomp_fd), "--info-fd", str(info_fd), "--block-fd", str(block_fd)]
    return [*args, "--", SANDBOX_PYTHON, "-E", "-s", "-S", "-B", "-c", _AGENT]


def agent_config(plan: Plan) -> dict[str, object]:
    return {
        "workspace": "/workspace",
        "read_only": [target for _, target in plan.files] + [target for _, target, ro in plan.dirs if ro],
        "writable": [target for _, target, ro in plan.dirs if not ro],
        "file_cap": 256 * 1024,
        "output_limit": plan.limits.output_bytes,
        "env": sandbox_env(plan),
        "proxy": {"port": PROXY_PORT, "socket": EGRESS_SOCKET} if plan.egress_socket else None,
        "rlimits": {"nofile": 4096, "fsize": plan.limits.disk_bytes},
    }


def _as_uid(uid: int) -> list[str]:
    """Switch to ``uid`` with no groups and no capabilities, even in the bounding set, then exec.

    ``setpriv`` rather than ``Popen(user=...)``: Python can only ``vfork`` a child that does not change
    credentials, and forking a large server process costs tens of milliseconds.
    """
    return [
        SETPRIV,
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--",
    ]


def _args_file(args: list[str]) -> int:
    """bwrap's arguments in a memory file (``--args FD``): bwrap reads and closes it before the sandbox starts,
    so the sandbox's pid 1 (bwrap) shows ``bwrap --args N -- <the agent's command>`` as its command line, not the
    host paths of the mounts' sources."""
    fd = os.memfd_create("bwrap-args", os.MFD_CLOEXEC)
    os.write(fd, b"".join(arg.encode() + b"\0" for arg in args))
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _admit(cgroups: Cgroups, bwrap_pid: int, info_fd: int, block_fd: int) -> None:
    """Once bwrap reports its sandbox process, put both in the cgroups, then let the sandbox start."""
    info = _read_all(info_fd)
    try:
        cgroups.join(bwrap_pid, int(json.loads(info)["child-pid"]))
    except (ValueError, KeyError, ProcessLookupError):
        return  # bwrap failed before (or while) starting the sandbox; its stderr says why
    os.write(block_fd, b"1")


async def spawn(layout: Layout, plan: Plan, cgroups: Cgroups) -> Process:
    """Start bwrap with the agent inside and admit it into its cgroups (the agent then awaits its config)."""
    info_r, info_w = os.pipe()
    block_r, block_w = os.pipe()
    seccomp_fd = os.open(layout.seccomp, os.O_RDONLY | os.O_CLOEXEC)
    argv = bwrap_argv(layout, plan, seccomp_fd=seccomp_fd, info_fd=info_w, block_fd=block_r)
    end = argv.index("--")  # bwrap takes the command itself on its command line only
    args_fd = _args_file(argv[1:end])
    fds = (seccomp_fd, info_w, block_r, args_fd)
    try:
        process = await anyio.open_process(
            [*_as_uid(plan.uid), BWRAP, "--args", str(args_fd), *argv[end:]],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},  # nothing of corral's environment, even outside
            pass_fds=fds,
            start_new_session=True,
        )
    except OSError as exc:
        raise failed(f"cannot start bwrap: {exc}") from exc
    finally:
        for fd in fds:
            os.close(fd)
    try:
        await anyio.to_thread.run_sync(_admit, cgroups, process.pid, info_r, block_w)
    except BaseException:  # cancelled while admitting (the thread runs on): nobody else holds the process yet
        await abandon(process)
        raise
    finally:
        os.close(info_r)
        os.close(block_w)
    return process


async def abandon(process: Process) -> None:
    """Kill a sandbox process, reap it and close its pipes — all of it even when the caller is being cancelled
    (an unshielded ``aclose`` stops at its first checkpoint and leaves the other pipes to the garbage collector)."""
    with anyio.CancelScope(shield=True):
        try:
            process.kill()
        except ProcessLookupError:
            pass
        with anyio.move_on_after(5):
            await process.aclose()  # closes the pipes, then reaps
