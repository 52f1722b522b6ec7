"""How the egress proxy process is started: an explicit environment, a uid of its own, no capabilities, a
read-only view of the filesystem.

When corral runs as root (the local sandbox provider requires it), the proxy runs as

    bwrap   new mount, pid, ipc, uts and cgroup namespaces (the host's network), dies with its parent
    setpriv uid and gid ``EGRESS_UID``, no supplementary groups, empty capability sets (bounding set included),
            ``no_new_privs``
    python -I -m corral.egress …   which loads its own seccomp filter before serving (``hardening``)

and sees ``/`` read-only, a private ``/proc``, ``/dev`` and ``/tmp``. A directory on the way to what it needs
that ``EGRESS_UID`` could not traverse (``/root`` is 0700; so is a pytest temporary directory) is replaced by
an empty tmpfs holding only what it needs, bound back in: the Python installation, the virtualenv, every
``sys.path`` entry read-only, and its mitmproxy confdir (``chown``-ed to ``EGRESS_UID``) writable: the one
place it can write.

When corral does not run as root there is no uid to drop: the proxy runs as the same user, with the same
explicit environment and its seccomp filter.

Invariants: the process environment is ``ENV`` and nothing else (no ``CORRAL_*``, ``ANTHROPIC_*``, ``OPENAI_*``,
nothing inherited); everything the proxy is told arrives on its command line (no secret is ever on it) or
over its control socket.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

BWRAP = "/usr/bin/bwrap"
SETPRIV = "/usr/bin/setpriv"
#: the proxy's uid and gid: below the sandboxes' uids (``LocalOptions.uid_base``), never a login user
EGRESS_UID = 1_499_000_000
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


@dataclass(frozen=True)
class ProxyArgs:
    """What the proxy process is told on its command line."""

    control_fd: int
    confdir: Path
    allow_private: tuple[str, ...] = ()
    max_connections: int = 64
    #: exit when this process dies (without bwrap, which sees to that itself)
    parent_pid: int | None = None
    #: extra CA certificates trusted for intercepted upstreams (bound read-only into the jail)
    upstream_ca: Path | None = None

    def argv(self) -> list[str]:
        args = [sys.executable, "-I", "-u", "-m", "corral.egress", "--control-fd", str(self.control_fd)]
        args += ["--confdir", str(self.confdir), "--max-connections", str(self.max_connections)]
        for entry in self.allow_private:
            args += ["--allow-private", entry]
        if self.parent_pid is not None:
            args += ["--parent-pid", str(self.parent_pid)]
        if self.upstream_ca is not None:
            args += ["--upstream-ca", str(self.upstream_ca)]
        return args


def privileged() -> bool:
    return os.geteuid() == 0


def missing_tools() -> list[str]:
    return [tool for tool in (BWRAP, SETPRIV) if shutil.which(tool) is None]


def _traversable(path: Path, uid: int) -> bool:
    info = path.stat()
    if info.st_uid == uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid == uid:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def _hidden_root(path: Path, uid: int) -> Path | None:
    """The outermost directory above ``path`` that ``uid`` cannot traverse, if any."""
    for ancestor in reversed(path.parents):
        if ancestor != Path("/") and not _traversable(ancestor, uid):
            return ancestor
    return None


def _within(path: Path, roots: Iterable[Path]) -> Path | None:
    return next((root for root in roots if path == root or root in path.parents), None)


@functools.cache
def _python_paths() -> tuple[Path, ...]:
    """What the proxy's interpreter reads: its prefixes and the ``sys.path`` it has in isolated mode (``-I``:
    never this process's working directory or ``PYTHONPATH``, which may hold anything), asked of it once."""
    probe = [sys.executable, "-I", "-c", "import json, sys; print(json.dumps(sys.path))"]
    listed = json.loads(subprocess.run(probe, capture_output=True, text=True, check=True, timeout=120, env=ENV).stdout)
    found = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.base_exec_prefix)}
    found |= {Path(str(entry)) for entry in listed if entry}
    found.add(Path(os.path.realpath(sys.executable)).parent)
    return tuple(sorted({path.resolve() for path in found if path.exists()}))


def mounts(writable: Path, uid: int, extra: tuple[Path, ...] = ()) -> list[str]:
    """bwrap arguments: ``/`` read-only, private ``/proc``, ``/dev``, ``/tmp``; what is needed made reachable
    (``extra``: more paths to read)."""
    read_only = (*_python_paths(), *(path.resolve() for path in extra))
    hidden = {Path("/tmp")} | {root for path in [*read_only, writable] if (root := _hidden_root(path, uid))}
    hidden = {root for root in hidden if _within(root, hidden - {root}) is None}
    args = ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    for root in sorted(hidden):
        args += ["--tmpfs", str(root)]
    made = set(hidden)
    needed = [(path, False) for path in read_only if _within(path, hidden)] + [(writable, True)]
    needed = [(path, rw) for path, rw in needed if rw or _within(path, {p for p, _ in needed} - {path}) is None]
    for path, rw in sorted(needed, key=lambda item: len(item[0].parts)):
        root = _within(path, hidden)
        for directory in reversed(path.parents) if root is not None else ():
            if root in directory.parents and directory not in made:
                args += ["--perms", "0755", "--dir", str(directory)]
                made.add(directory)
        args += ["--bind" if rw else "--ro-bind", str(path), str(path)]
    return args


def jailed_argv(proxy: ProxyArgs, info_fd: int) -> list[str]:
    args = [BWRAP, "--die-with-parent", "--new-session", "--as-pid-1", "--unshare-pid", "--unshare-ipc"]
    args += ["--unshare-uts", "--unshare-cgroup-try", "--chdir", "/", "--info-fd", str(info_fd)]
    args += mounts(proxy.confdir, EGRESS_UID, () if proxy.upstream_ca is None else (proxy.upstream_ca,))
    uid = str(EGRESS_UID)
    args += ["--", SETPRIV, "--reuid", uid, "--regid", uid, "--clear-groups", "--inh-caps=-all"]
    args += ["--bounding-set=-all", "--no-new-privs", "--"]
    return args + proxy.argv()


def prepare_confdir(confdir: Path) -> None:
    """The confdir exists and belongs to the proxy's uid (mitmproxy keeps its CA there), mode 0700.

    A confdir that root owns (made by a proxy that still ran as root) is handed over, never following a
    symbolic link; one the proxy's uid owns already is left as it is (root never acts on what the proxy wrote).
    """
    confdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if confdir.lstat().st_uid != EGRESS_UID:
        for directory, _, files in os.walk(confdir):
            for name in [directory, *(os.path.join(directory, f) for f in files)]:
                os.chown(name, EGRESS_UID, EGRESS_UID, follow_symlinks=False)
    confdir.chmod(0o700)
