"""The bash commands ``auto`` denies (``high_risk``): a command, or any command inside it, that matches one of these.

Each rule, and why it is there:

* ``remove_root``: ``rm`` recursive (or ``--no-preserve-root``) of the root, a top-level system directory, a home or
  the workspace (``/``, ``/*``, ``~``, ``$HOME``, ``/etc``, ``/workspace``, ``.``, ``*``, ``..`` …), ``rm -r "$X"/*``
  (an empty variable makes it ``/*``), ``mv`` of one of those, ``find`` of ``/``, a system directory or a home
  with ``-delete`` or an ``-exec rm``: the work or the machine is gone, and nothing undoes it.
* ``permissions_root``: ``chmod``/``chown``/``chgrp -R`` of the same places (``chmod -R 777 /``): the system
  stops working, or every file becomes writable by everyone.
* ``system_write``: a redirection, ``tee``, ``cp``/``mv``/``ln``/``install``, ``sed -i``, ``touch``, ``rm`` …
  into ``/etc``, ``/usr``, ``/bin``, ``/boot``, ``/lib*``, ``/sys``, ``/proc``, ``/root``, ``/dev`` (not
  ``/dev/null`` and the like) or the cron spool: changing the system is never part of the work, and it is how
  persistence and privilege escalation are set up.
* ``disk_format`` / ``device_write``: ``mkfs*``, ``mkswap``, ``wipefs``, ``fdisk`` … and ``dd of=/dev/…``:
  they destroy a disk.
* ``fork_bomb``: ``:(){ :|:& };:`` and its named variants: they take the machine down.
* ``download_to_shell``: ``curl … | sh``, ``wget -O- … | python3``, ``bash <(curl …)``, ``eval "$(curl …)"``: code
  nobody has read, run at once.
* ``power``: ``shutdown``, ``reboot``, ``halt``, ``poweroff``, ``init 0|6``, ``systemctl reboot`` …; ``kill_all``:
  ``kill -9 -1``, ``killall5``: they stop everything, not a process of the work.
* ``crontab_edit``: ``crontab`` other than ``crontab -l``: a scheduled job outlives the call that made it.
* ``credential_file``: any word naming SSH keys, shell or REPL histories, cloud, registry or ``.netrc``
  credentials, ``/etc/shadow`` or a process's ``environ``: reading them is how credentials leave.

A command is looked through: keywords (``then``, ``do`` …), ``NAME=value`` prefixes and wrappers (``sudo``,
``env``, ``nohup``, ``timeout``, ``xargs`` …) are stripped, ``bash -c``/``sh -c``/``su -c``/``eval`` strings and
command substitutions are judged as commands of their own, up to a few levels deep.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence

from corral.harness.policy.paths import WORKSPACE, location, protected, sensitive, wipe_target
from corral.harness.policy.shell import Pipeline, Redirect, parse, substitutions


def _names(text: str) -> list[str]:
    """Names written as one string (command names such as ``grep`` are not tool names here)."""
    return text.split()


MAX_DEPTH = 4

#: a function that pipes itself into itself; the name starts a word and the body is short (linear time on any input)
_FORK_BOMBS = (
    re.compile(r"(?<![\w:.])([\w:.]+)\s*\(\)\s*\{[^}]{0,200}?\1\s*\|\s*\1"),
    re.compile(r"function\s+([\w:.]+)\s*(?:\(\))?\s*\{[^}]{0,200}?\1\s*\|\s*\1"),
)
_KEYWORDS = frozenset(_names("if then else elif fi do done while until ! { } time"))
_HEADERS = frozenset(_names("for select case function"))
#: wrappers that run the rest of their words as a command: options that take a value, operands before the command
_WRAPPERS: dict[str, tuple[frozenset[str], int]] = {
    "sudo": (frozenset(_names("-u -g -h -p -C -D -r -t -U")), 0),
    "doas": (frozenset(_names("-u -C")), 0),
    "env": (frozenset(_names("-u -C")), 0),
    "nice": (frozenset(["-n"]), 0),
    "ionice": (frozenset(_names("-c -n -p")), 0),
    "timeout": (frozenset(_names("-s -k --signal --kill-after")), 1),
    "stdbuf": (frozenset(_names("-i -o -e")), 0),
    "xargs": (frozenset(_names("-I -n -P -d -L -s -E -a")), 0),
    "watch": (frozenset(_names("-n")), 0),
    "strace": (frozenset(_names("-o -e -p")), 0),
    "chroot": (frozenset(), 1),
    **dict.fromkeys(_names("nohup setsid exec command builtin unbuffer busybox"), (frozenset[str](), 0)),
}
SHELLS = frozenset(_names("sh bash dash zsh ksh ash fish"))
INTERPRETERS = SHELLS | frozenset(_names("python python3 perl ruby node php"))
DOWNLOADERS = frozenset(_names("curl wget fetch"))
_FIND_RUNS = frozenset(_names("-exec -execdir -ok -okdir"))


def denial(command: str, depth: int = 0) -> str | None:
    """The rule that denies ``command`` (or a command inside it), or None."""
    if depth > MAX_DEPTH:
        return None
    if any(bomb.search(command) for bomb in _FORK_BOMBS):
        return "fork_bomb"
    for body in substitutions(command):
        if rule := denial(body, depth + 1):
            return rule
    pipelines = parse(command)
    if pipelines is None:
        return None
    for pipeline in pipelines:
        if rule := _pipeline_denial(pipeline, depth):
            return rule
    return "download_to_shell" if _substituted_download(command, pipelines) else None


def unwrap(words: Sequence[str]) -> tuple[str, ...]:
    """The command a simple command really runs: without keywords, assignments and wrappers."""
    rest = list(words)
    while rest:
        name = posixpath.basename(rest[0])
        if rest[0] in _HEADERS:
            return ()
        if rest[0] in _KEYWORDS or re.match(r"^\w+=", rest[0]):
            rest.pop(0)
        elif name in _WRAPPERS:
            rest = _after_wrapper(rest[1:], *_WRAPPERS[name])
        else:
            break
    return tuple(rest)


def _after_wrapper(args: list[str], valued: frozenset[str], operands: int) -> list[str]:
    index = 0
    while index < len(args) and (args[index].startswith("-") or re.match(r"^\w+=", args[index])):
        index += 2 if args[index] in valued else 1
    return args[index + operands :]


def _pipeline_denial(pipeline: Pipeline, depth: int) -> str | None:
    downloaded = False
    for simple in pipeline:
        words = unwrap(simple.words)
        if downloaded and words and _runs_stdin(words):
            return "download_to_shell"
        downloaded = downloaded or (bool(words) and posixpath.basename(words[0]) in DOWNLOADERS)
        if rule := simple_denial(simple.words, simple.redirects, depth):
            return rule
    return None


def _runs_stdin(words: Sequence[str]) -> bool:
    """The command runs a program it reads from its standard input."""
    name, args = posixpath.basename(words[0]), words[1:]
    if name not in INTERPRETERS:
        return False
    if name in SHELLS and _script_after_c(args) is not None:
        return False
    return all(arg.startswith("-") for arg in args) or "-s" in args


def _substituted_download(command: str, pipelines: tuple[Pipeline, ...]) -> bool:
    """``bash <(curl …)``, ``eval "$(curl …)"``: a downloaded body given to something that runs it."""
    fetched = False
    for body in substitutions(command):
        inner = parse(body) or ()
        fetched = fetched or any(_starts_with(pipeline, DOWNLOADERS) for pipeline in inner)
    runners = INTERPRETERS | {"eval", "source", "."}
    return fetched and any(_starts_with((simple,), runners) for pipeline in pipelines for simple in pipeline)


def _starts_with(pipeline: Pipeline, names: frozenset[str]) -> bool:
    words = unwrap(pipeline[0].words) if pipeline else ()
    return bool(words) and posixpath.basename(words[0]) in names


def simple_denial(words: Sequence[str], redirects: Sequence[Redirect], depth: int) -> str | None:
    for redirect in redirects:
        if sensitive(redirect.target):
            return "credential_file"
        if redirect.writes and protected(redirect.target):
            return "device_write" if (location(redirect.target) or "").startswith("/dev/") else "system_write"
    if any(sensitive(word) for word in words):
        return "credential_file"
    command = unwrap(words)
    if not command:
        return None
    name, args = posixpath.basename(command[0]), list(command[1:])
    script = _inner_script(name, args)
    if script is not None:
        return denial(script, depth + 1)
    rule = _RULES.get("mkfs" if name.startswith("mkfs") else name)
    return rule(args, depth) if rule else None


def _inner_script(name: str, args: list[str]) -> str | None:
    if name in SHELLS:
        return _script_after_c(args)
    if name == "su":
        for index, arg in enumerate(args[:-1]):
            if arg in ("-c", "--command"):
                return args[index + 1]
    if name == "eval":
        return " ".join(args)
    return None


def _script_after_c(args: Sequence[str]) -> str | None:
    seen_c = False
    for arg in args:
        if arg.startswith("-") and not arg.startswith("--"):
            seen_c = seen_c or "c" in arg[1:]
        elif seen_c:
            return arg
    return None


# ---------------------------------------------------------------------------------------------- per command


def operands(args: Sequence[str]) -> list[str]:
    if "--" in args:
        cut = list(args).index("--")
        return [arg for arg in args[:cut] if not arg.startswith("-")] + list(args[cut + 1 :])
    return [arg for arg in args if not arg.startswith("-")]


def _recursive(args: Sequence[str], letters: str) -> bool:
    short = (arg for arg in args if arg.startswith("-") and not arg.startswith("--"))
    return "--recursive" in args or any(letter in arg[1:] for arg in short for letter in letters)


def _system(words: Sequence[str]) -> str | None:
    return "system_write" if any(protected(word) for word in words) else None


def _rm(args: list[str], depth: int) -> str | None:
    targets = operands(args)
    if "--no-preserve-root" in args or (_recursive(args, "rR") and any(wipe_target(t) for t in targets)):
        return "remove_root"
    return _system(targets)


def _mv(args: list[str], depth: int) -> str | None:
    targets = operands(args)
    if any(wipe_target(t) for t in targets[:-1]):
        return "remove_root"
    return _system(targets)


def _copy(args: list[str], depth: int) -> str | None:
    targets = operands(args)
    named = [arg.split("=", 1)[1] for arg in args if arg.startswith("--target-directory=")]
    named += [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "-t"]
    return _system(named + targets[-1:])


def _modes(args: list[str], depth: int) -> str | None:
    targets = operands(args)
    if _recursive(args, "R") and any(wipe_target(t) for t in targets):
        return "permissions_root"
    return _system(targets)


def _writer(args: list[str], depth: int) -> str | None:
    return _system(operands(args))


def _sed(args: list[str], depth: int) -> str | None:
    in_place = any(arg.startswith(("-i", "--in-place")) for arg in args)
    return _system(operands(args)) if in_place else None


def _dd(args: list[str], depth: int) -> str | None:
    for arg in args:
        if arg.startswith("of="):
            target = location(arg[3:]) or ""
            if target.startswith("/dev/") and protected(target):
                return "device_write"
            if protected(arg[3:]):
                return "system_write"
    return None


def _find(args: list[str], depth: int) -> str | None:
    starts = _until_expression(args) or ["."]
    for index, arg in enumerate(args):
        rule = simple_denial(args[index + 1 :], (), depth) if arg in _FIND_RUNS else None
        if rule:
            return rule
    removes = "-delete" in args or any(
        arg in _FIND_RUNS and posixpath.basename(nxt) in ("rm", "shred", "unlink")
        for arg, nxt in zip(args, args[1:], strict=False)
    )
    wiped = [start for start in starts if wipe_target(start) and location(start) not in (WORKSPACE, None)]
    return "remove_root" if removes and wiped else None


def _until_expression(args: list[str]) -> list[str]:
    starts: list[str] = []
    for arg in args:
        if arg.startswith(("-", "(", "!")):
            break
        starts.append(arg)
    return starts


def _fixed(rule: str) -> Callable[[list[str], int], str | None]:
    return lambda args, depth: rule


def _kill(args: list[str], depth: int) -> str | None:
    return "kill_all" if len(args) >= 2 and args[-1] == "-1" else None


def _init(args: list[str], depth: int) -> str | None:
    return "power" if {"0", "6"} & set(args) else None


def _systemctl(args: list[str], depth: int) -> str | None:
    return "power" if {"poweroff", "reboot", "halt", "kexec"} & set(args) else None


def _crontab(args: list[str], depth: int) -> str | None:
    return None if args == ["-l"] else "crontab_edit"


_RULES: dict[str, Callable[[list[str], int], str | None]] = {
    "rm": _rm,
    "mv": _mv,
    "find": _find,
    "dd": _dd,
    "sed": _sed,
    "kill": _kill,
    "init": _init,
    "telinit": _init,
    "systemctl": _systemctl,
    "crontab": _crontab,
    **dict.fromkeys(("cp", "ln", "install", "rsync"), _copy),
    **dict.fromkeys(("chmod", "chown", "chgrp"), _modes),
    **dict.fromkeys(("tee", "touch", "truncate", "shred", "mkdir", "rmdir", "unlink"), _writer),
    **dict.fromkeys(_names("mkfs mkswap wipefs fdisk sfdisk cfdisk parted sgdisk blkdiscard"), _fixed("disk_format")),
    **dict.fromkeys(("shutdown", "reboot", "halt", "poweroff"), _fixed("power")),
    "killall5": _fixed("kill_all"),
}
