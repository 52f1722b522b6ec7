"""The egress proxy's own seccomp filter (``corral.egress.hardening``), loaded in a child process that then tries
what a compromised proxy would: start a program or a process, enter namespaces, mount, trace, open raw sockets.
What a proxy needs keeps working: threads, TCP and unix sockets, the netlink dump of this host's networks."""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = r"""
import ctypes, errno, json, os, socket, subprocess, threading
from corral.egress import hardening, host_networks

hardening.build_filter().load()
libc = ctypes.CDLL(None, use_errno=True)
seen = {}

def attempt(name, action):
    try:
        action()
        seen[name] = "ok"
    except OSError as exc:
        seen[name] = errno.errorcode.get(exc.errno, str(exc.errno))

def call(function, *args):
    def run():
        if function(*args) == -1:
            number = ctypes.get_errno()
            raise OSError(number, os.strerror(number))
    return run

attempt("fork", os.fork)
attempt("subprocess", lambda: subprocess.run(["/bin/true"], check=True))
attempt("execv", lambda: os.execv("/bin/true", ["/bin/true"]))
attempt("unshare", call(libc.unshare, 0x00020000))
attempt("setns", call(libc.setns, 0, 0))
attempt("mount", call(libc.mount, b"none", b"/tmp", b"tmpfs", 0, None))
attempt("chroot", call(libc.chroot, b"/"))
attempt("ptrace", call(libc.ptrace, 16, os.getppid(), 0, 0))
attempt("packet socket", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close())
attempt("tcp socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close())
attempt("tcp6 socket", lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close())
attempt("unix socket", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close())
attempt("host networks", host_networks.read)
done = []
thread = threading.Thread(target=done.append, args=[1])
attempt("thread", thread.start)
thread.join()
seen["thread ran"] = bool(done)
print(json.dumps(seen))
"""


def test_the_filter_refuses_what_a_proxy_never_needs_and_keeps_what_it_does() -> None:
    result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "fork": "EPERM",
        "subprocess": "EPERM",
        "execv": "EPERM",
        "unshare": "EPERM",
        "setns": "EPERM",
        "mount": "EPERM",
        "chroot": "EPERM",
        "ptrace": "EPERM",
        "packet socket": "EAFNOSUPPORT",
        "tcp socket": "ok",
        "tcp6 socket": "ok",
        "unix socket": "ok",
        "host networks": "ok",
        "thread": "ok",
        "thread ran": True,
    }
