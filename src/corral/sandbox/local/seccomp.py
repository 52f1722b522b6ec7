"""The seccomp filter every local sandbox runs under (a denylist, compiled once to BPF with libseccomp).

Refused with ``EPERM``: kernel-wide or namespace operations (mount, namespaces, kexec, modules, bpf, perf,
keyrings, ptrace and cross-process memory access, clock changes, swap, reboot, io_uring), new user namespaces
via ``clone`` flags, and terminal input injection (``TIOCSTI``). ``clone3`` answers ``ENOSYS`` so libc falls
back to ``clone``, whose flags the filter can inspect. Sockets other than ``AF_UNIX``, ``AF_INET`` and
``AF_INET6`` answer ``EAFNOSUPPORT`` (no netlink, no packet sockets). btrfs ioctls answer ``ENOTTY`` so a
sandbox cannot create subvolumes that would escape its workspace quota (``cp --reflink=auto`` falls back to
copying).

Invariant: the filter is installed by bwrap before the agent starts, so every process in the sandbox,
the agent included, runs under it (with ``no_new_privs``).
"""

from __future__ import annotations

import errno
from pathlib import Path

import pyseccomp as sc

_DENIED = """
ptrace process_vm_readv process_vm_writev mount umount2 pivot_root move_mount open_tree fsopen fsconfig fsmount
fspick mount_setattr keyctl add_key request_key bpf perf_event_open userfaultfd kexec_load kexec_file_load
init_module finit_module delete_module open_by_handle_at name_to_handle_at iopl ioperm swapon swapoff reboot
settimeofday clock_settime clock_adjtime adjtimex syslog acct quotactl lookup_dcookie vhangup nfsservctl
io_uring_setup io_uring_enter io_uring_register setns unshare fanotify_init uselib personality
"""
DENIED = tuple(_DENIED.split())
_CLONE_NEWUSER = 0x10000000
_TIOCSTI = 0x5412
_BTRFS_IOCTL_TYPE = 0x9400
_ALLOWED_FAMILIES = (1, 2, 10)  # AF_UNIX, AF_INET, AF_INET6
_MAX_FAMILY = 46


def write_filter(path: Path) -> None:
    f = sc.SyscallFilter(defaction=sc.ALLOW)
    for name in DENIED:
        f.add_rule(sc.ERRNO(errno.EPERM), name)
    f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_NEWUSER, _CLONE_NEWUSER))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    f.add_rule(sc.ERRNO(errno.EPERM), "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, _TIOCSTI))
    f.add_rule(sc.ERRNO(errno.ENOTTY), "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFF00, _BTRFS_IOCTL_TYPE))
    for family in range(_MAX_FAMILY):
        if family not in _ALLOWED_FAMILIES:
            f.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.EQ, family))
    with path.open("wb") as out:
        f.export_bpf(out)
