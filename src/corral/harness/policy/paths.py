"""Where a path in a tool input or a shell word points, judged lexically, as the rule set needs it.

The sandbox resolves a relative path against ``/workspace`` (the file tools, and the shell's starting
directory), so the rules do too; ``~`` and ``$HOME`` are the sandbox user's home. The judgement is lexical:
symlinks are not followed (the sandbox itself confines the file tools to the workspace, symlinks included),
and a word with any other expansion (``$VAR``, ``$(…)``) has no known location.

Invariants:

* ``location`` never guesses: a word it cannot place is ``None``, and the rules treat ``None`` as "not known
  to be inside", never as inside.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from typing import Final

WORKSPACE: Final = "/workspace"
HOME: Final = "/home/user"
READABLE: Final = (WORKSPACE, "/tmp")
"""Where reading is routine: the workspace and the sandbox's scratch space."""

_HOME_PREFIX = re.compile(r"^(?:~|\$HOME\b|\$\{HOME\})")

#: directories whose recursive removal or re-permissioning wrecks the machine or the work: the root, the top-level
#: system directories, the homes and the workspace
WIPE_TARGETS: Final = frozenset(
    ("/", WORKSPACE, HOME, "/home", "/root", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64")
    + ("/opt", "/proc", "/sbin", "/srv", "/sys", "/usr", "/var")
)

#: where a write is an attack on the system, not work: configuration, binaries, boot, kernel interfaces, cron
PROTECTED: Final = ("/etc", "/boot", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/sys", "/proc", "/root") + (
    "/var/spool/cron",
    "/dev",
)
HARMLESS_DEVICES: Final = frozenset(
    ("/dev/null", "/dev/zero", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/random", "/dev/urandom")
)

#: files whose reading is credential theft: SSH keys, shell and REPL histories, cloud and registry credentials,
#: password databases, and the environment of processes (where secrets are passed)
SENSITIVE = re.compile(
    r"(?:^|/)\.ssh(?:/|$)"
    r"|(?:^|/)id_(?:rsa|dsa|ecdsa|ed25519)$"
    r"|(?:^|/)\.\w*history$"
    r"|(?:^|/)\.(?:aws|azure|kube|gnupg|docker)(?:/|$)"
    r"|(?:^|/)\.config/gcloud(?:/|$)"
    r"|(?:^|/)\.(?:netrc|git-credentials|pgpass)$"
    r"|^/etc/(?:shadow|gshadow|sudoers)"
    r"|^/proc/[^/]+/environ$"
)


def location(word: str) -> str | None:
    """The absolute, normalised path ``word`` names, or None when it holds an expansion we cannot follow."""
    word = _HOME_PREFIX.sub(HOME, word, count=1)
    if "$" in word or "`" in word or "\x00" in word:
        return None
    where = posixpath.normpath(posixpath.join(WORKSPACE, word))
    return "/" + where.lstrip("/")  # POSIX keeps a leading ``//``; the kernel does not


def within(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def inside(word: str, roots: Iterable[str]) -> bool:
    """``word`` surely names a path under one of ``roots``."""
    where = location(word)
    return where is not None and within(where, roots)


def sensitive(word: str) -> bool:
    """``word`` names (or mentions as a path) a credential file."""
    where = location(word)
    return bool(SENSITIVE.search(word) or (where is not None and SENSITIVE.search(where)))


def protected(word: str) -> bool:
    """A write to ``word`` would change the system rather than the work."""
    where = location(word)
    if where is None or where in HARMLESS_DEVICES or where.startswith(("/dev/fd/", "/dev/shm/")):
        return False
    return where == "/" or within(where, PROTECTED)


def wipe_target(word: str) -> bool:
    """Removing ``word`` recursively would remove the root, a system directory, a home or the workspace (a trailing
    ``/``, ``/*`` or ``*`` included: ``rm -rf ./*`` empties the workspace). A bare variable followed by ``/``
    counts too: ``rm -rf "$DIR"/*`` with ``DIR`` empty is ``rm -rf /*``."""
    if re.fullmatch(r"\$\{?\w+\}?/\*?", word):
        return True
    trimmed = word[:-1] if word.endswith("*") else word
    where = location(trimmed or ".")
    return where is not None and where in WIPE_TARGETS
