"""What the egress proxy process does to itself before it serves: no dumps, enough descriptors, its own seccomp.

The filter is a deny-list (default allow): the proxy is corral's own trusted code, and the filter's job is to
make a bug in it, or in mitmproxy's parsing of hostile traffic, worth as little as possible. A forward proxy
accepts on unix sockets, connects out over TCP, resolves names and reads a few files; it never needs:

* **to run a program or start a process**: ``execve``, ``execveat``, ``fork``, ``vfork``, and ``clone`` without
  ``CLONE_THREAD`` answer ``EPERM`` (threads still start: glibc's ``clone3`` answers ``ENOSYS``, so it falls back
  to ``clone``, whose flags the filter can read) — an exploit gets no shell;
* **to reach into other processes**: ``ptrace``, ``process_vm_readv``/``writev``, ``pidfd_getfd``, ``kcmp``;
* **namespaces, mounts, a new root**: ``unshare``, ``setns``, ``mount`` and the new mount API, ``umount2``,
  ``pivot_root``, ``chroot``;
* **kernel surface that has carried privilege escalations**: ``bpf``, ``perf_event_open``, ``userfaultfd``,
  ``io_uring_*``, ``keyctl``/``add_key``/``request_key``, ``open_by_handle_at``/``name_to_handle_at``,
  ``fanotify_init``, ``personality``, ``uselib``;
* **anything that administers the machine**: modules, ``kexec``, ``reboot``, swap, clocks, ``syslog``, ``acct``,
  ``quotactl``, ``iopl``/``ioperm``, ``vhangup``, and ``TIOCSTI`` (typing into a terminal);
* **sockets other than** ``AF_UNIX``, ``AF_INET``, ``AF_INET6`` and ``AF_NETLINK`` (read-only route dumps:
  ``host_networks`` and glibc's resolver use them): ``EAFNOSUPPORT``.

Invariants: ``harden`` runs before any thread starts and the filter is synchronised to every thread
(``TSYNC``), with ``no_new_privs``; the process is not dumpable (its memory and ``/proc/<pid>/environ`` are
root's alone); it refuses to serve as root.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource

import pyseccomp as sc

_DENIED = """
execve execveat fork vfork ptrace process_vm_readv process_vm_writev pidfd_getfd kcmp
unshare setns mount umount2 pivot_root chroot move_mount open_tree fsopen fsconfig fsmount fspick mount_setattr
bpf perf_event_open userfaultfd io_uring_setup io_uring_enter io_uring_register keyctl add_key request_key
open_by_handle_at name_to_handle_at fanotify_init personality uselib
init_module finit_module delete_module kexec_load kexec_file_load reboot swapon swapoff settimeofday
clock_settime clock_adjtime adjtimex syslog acct quotactl lookup_dcookie iopl ioperm vhangup nfsservctl
"""
DENIED = tuple(_DENIED.split())
_CLONE_THREAD = 0x00010000
_TIOCSTI = 0x5412
_ALLOWED_FAMILIES = (1, 2, 10, 16)  # AF_UNIX, AF_INET, AF_INET6, AF_NETLINK
_MAX_FAMILY = 46
_PR_SET_DUMPABLE = 4


def build_filter() -> sc.SyscallFilter:
    f = sc.SyscallFilter(defaction=sc.ALLOW)
    for name in DENIED:
        f.add_rule(sc.ERRNO(errno.EPERM), name)
    f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    f.add_rule(sc.ERRNO(errno.EPERM), "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, _TIOCSTI))
    for family in range(_MAX_FAMILY):
        if family not in _ALLOWED_FAMILIES:
            f.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.EQ, family))
    f.set_attr(sc.Attr.CTL_TSYNC, 1)
    return f


def _raise_descriptor_limit() -> None:
    """Up to the hard limit: every sandbox connection costs the proxy a few descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def harden() -> None:
    """Call first thing in the proxy process; ``SystemExit`` if it runs as root."""
    if os.geteuid() == 0:
        raise SystemExit("corral egress: the proxy does not run as root (corral starts it under a uid of its own)")
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    _raise_descriptor_limit()
    build_filter().load()
