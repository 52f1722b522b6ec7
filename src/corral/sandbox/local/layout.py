"""The host-side files every local sandbox uses, prepared once per provider start.

* ``<run>/lib/agent``: a copy of the in-sandbox agent, byte-compiled by the sandbox's own Python, bind-mounted
  read-only at ``/opt/corral`` (with ``pip.whl``, a pip wheel from this machine, for building package layers);
* ``<run>/etc``: the sandbox's ``passwd``, ``group``, ``hosts`` and ``nsswitch.conf`` (one user, uid 1000);
* ``<state>/seccomp.bpf``: the compiled seccomp filter, handed to bwrap as an fd (root-only file).

Invariants: the runtime directory is reachable but not listable by sandbox uids (0711) and records its data
dir in ``source``; a runtime directory whose data dir is gone is swept (never while something is mounted in
it).
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from corral.sandbox.local import seccomp
from corral.sandbox.local.disk import mounted
from corral.sandbox.runtime import RUN_BASE, runtime_dir, state_dir

AGENT_SOURCE = Path(__file__).parent / "agent"
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


class Layout:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.state = state_dir(data_dir)
        self.run = runtime_dir(data_dir)
        self.lib = self.run / "lib"
        self.etc = self.run / "etc"
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
        self._install_agent()
        if wheel := pip_wheel():
            shutil.copyfile(wheel, self.lib / "pip.whl")
            (self.lib / "pip.whl").chmod(0o644)
        self._write_etc()
        seccomp.write_filter(self.seccomp)

    def _install_agent(self) -> None:
        target = self.lib / "agent"
        shutil.rmtree(target, ignore_errors=True)
        self.lib.mkdir(mode=0o755, exist_ok=True)
        shutil.copytree(AGENT_SOURCE, target, ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run([SANDBOX_PYTHON, "-m", "compileall", "-q", str(target)], check=True, timeout=120)
        for path in [self.lib, *self.lib.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)

    def _write_etc(self) -> None:
        self.etc.mkdir(mode=0o755, exist_ok=True)
        for name, content in ETC_FILES.items():
            (self.etc / name).write_text(content)
            (self.etc / name).chmod(0o644)


def sweep_stale() -> None:
    """Remove runtime directories whose data dir no longer exists (left by crashed or test providers)."""
    if not RUN_BASE.is_dir():
        return
    for run in RUN_BASE.iterdir():
        source = run / "source"
        if not source.is_file() or Path(source.read_text()).exists():
            continue
        fs = run / "fs"
        if fs.exists() and mounted(fs):
            subprocess.run(["umount", "--lazy", str(fs)], check=False, capture_output=True, timeout=60)
        if not (fs.exists() and mounted(fs)):
            shutil.rmtree(run, ignore_errors=True)
