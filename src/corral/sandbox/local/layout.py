"""The host-side files every local sandbox uses, prepared once per provider start.

* ``/run/corral/shared-<digest>/lib/agent``: a copy of the in-sandbox agent, byte-compiled by the sandbox's own
  Python, bind-mounted read-only at ``/opt/corral`` (with ``pip.whl``, a pip wheel from this machine, for building
  package layers); shared by every data dir, named by the digest of its contents, never changed once built;
* ``/run/corral/shared-<digest>/etc``: the sandbox's ``passwd``, ``group``, ``hosts`` and ``nsswitch.conf``;
* ``<state>/seccomp.bpf``: the compiled seccomp filter, handed to bwrap as an fd (root-only file).

Invariants: the runtime directory is reachable but not listable by sandbox uids (0711) and records its data
dir in ``source``; a runtime directory whose data dir is gone is swept (never while something is mounted in
it).
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from corral.sandbox.local import seccomp
from corral.sandbox.local.disk import mounted
from corral.sandbox.runtime import RUN_BASE, runtime_dir, state_dir

AGENT_SOURCE = Path(__file__).parent / "agent"
_SWEEP_GRACE_SECONDS = 600.0
SANDBOX_PYTHON = "/usr/bin/python3"
ETC_FILES = {
    "passwd": "root:x:0:0:root:/root:/usr/sbin/nologin\nuser:x:1000:1000:sandbox user:/home/user:/bin/bash\n",
    "group": "root:x:0:\nuser:x:1000:\n",
    "hosts": "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
}
#: non-secret host files every sandbox sees read-only (those that exist)
HOST_ETC = (
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "alternatives",
    "ld.so.cache",
    "localtime",
    "mime.types",
    "services",
    "protocols",
    "os-release",
)


def pip_wheel() -> str | None:
    """A pip wheel on this machine (the sandbox's Python has no pip of its own)."""
    candidates = [Path(sysconfig.get_paths()["stdlib"]) / "ensurepip" / "_bundled"]
    candidates += [Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "ensurepip"]
    candidates += [Path("/usr/share/python-wheels")]
    for directory in candidates:
        found = sorted(glob.glob(str(directory / "**" / "pip-*.whl"), recursive=True))
        if found:
            return found[-1]
    return None


def _source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(AGENT_SOURCE.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    for name, content in sorted(ETC_FILES.items()):
        digest.update(name.encode() + content.encode())
    return digest.hexdigest()[:16]


def _build_shared(target: Path) -> None:
    """The agent (byte-compiled), the pip wheel and the /etc files, built aside then renamed into place."""
    building = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(building, ignore_errors=True)
    shutil.copytree(AGENT_SOURCE, building / "lib" / "agent", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([SANDBOX_PYTHON, "-m", "compileall", "-q", str(building / "lib")], check=True, timeout=120)
    if wheel := pip_wheel():
        shutil.copyfile(wheel, building / "lib" / "pip.whl")
    (building / "etc").mkdir()
    for name, content in ETC_FILES.items():
        (building / "etc" / name).write_text(content)
    for path in [building, *building.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    try:
        building.rename(target)
    except OSError:  # another process finished first; theirs is identical
        shutil.rmtree(building, ignore_errors=True)


class Layout:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.state = state_dir(data_dir)
        self.run = runtime_dir(data_dir)
        self.shared = RUN_BASE / f"shared-{_source_digest()}"
        self.lib = self.shared / "lib"
        self.etc = self.shared / "etc"
        self.fs = self.run / "fs"
        self.seccomp = self.state / "seccomp.bpf"
        self.journal = self.state / "journal"

    def prepare(self) -> None:
        sweep_stale()
        self.state.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.state.chmod(0o700)
        RUN_BASE.mkdir(mode=0o711, parents=True, exist_ok=True)
        self.run.mkdir(mode=0o711, exist_ok=True)
        self.run.chmod(0o711)
        (self.run / "source").write_text(str(self.data_dir.resolve()))
        if not self.shared.is_dir():
            _build_shared(self.shared)
        self.seccomp.write_bytes(_filter_bytes())

    def release(self) -> None:
        """Remove this data dir's runtime directory once nothing is mounted in it (what is in use stays)."""
        if self.fs.exists() and mounted(self.fs):
            return  # another process still uses it; ``source`` lets a later sweep judge it
        if self.fs.exists():
            self.fs.rmdir()
        (self.run / "source").unlink(missing_ok=True)
        try:
            self.run.rmdir()
        except OSError:
            pass  # the egress proxy's sockets, or a filesystem another process still uses


@functools.cache
def _filter_bytes() -> bytes:  # compiled once per process
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "filter.bpf"
        seccomp.write_filter(path)
        return path.read_bytes()


def abandoned(run: Path) -> bool:
    """Left behind: its data dir is gone, or (no ``source``: an egress proxy's only) nothing has listened on its
    control socket for a while."""
    source = run / "source"
    if source.is_file():
        return not Path(source.read_text()).exists()
    if time.time() - run.stat().st_mtime < _SWEEP_GRACE_SECONDS:
        return False
    with socket.socket(socket.AF_UNIX) as probe:
        probe.setblocking(False)  # a live proxy whose backlog is full would block connect() for good
        try:
            probe.connect(str(run / "egress" / "control.sock"))
        except BlockingIOError:
            return False  # someone listens, busy: not abandoned
        except OSError:
            return True
    return False


def sweep_stale() -> None:
    """Remove runtime directories left by crashed or killed providers and proxies (never a mounted one)."""
    if not RUN_BASE.is_dir():
        return
    for run in RUN_BASE.iterdir():
        if run.name.startswith("shared-") or not abandoned(run):
            continue
        fs = run / "fs"
        if fs.exists() and mounted(fs):
            subprocess.run(["umount", "--lazy", str(fs)], check=False, capture_output=True, timeout=60)
        if not (fs.exists() and mounted(fs)):
            shutil.rmtree(run, ignore_errors=True)
