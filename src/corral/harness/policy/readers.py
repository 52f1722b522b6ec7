"""The bash commands ``auto`` allows: read-only inspection of the workspace, and nothing it cannot see through.

A command is recognised as safe only when all of this holds (anything else is ``ask``, never ``allow``):

* it parses (``shell.parse``) and holds no expansion whose value the rules cannot know: no ``$`` at all (a
  variable can name any path; ``$(…)`` runs anything), no backquote, no process substitution;
* every simple command in it is a known reader called by its bare name (``/tmp/ls`` may be anything; so may an
  ``ls`` after ``PATH=…``), without the options that make it write, delete or run other programs (``find
  -delete``/``-exec``, ``sort -o``, ``rg --pre``, ``tree -o``, ``date -s`` …);
* ``git`` only as ``status``, ``log``, ``diff``, ``show``, ``rev-parse``, ``ls-files``, ``blame`` and ``branch``
  that lists, with ``-C DIR`` and ``--no-pager`` as its only global options (``git -c`` sets configuration that
  runs programs), and without ``--output`` or ``--ext-diff``;
* every path it names lies, lexically, in the workspace or ``/tmp`` (``cat /etc/hostname`` asks), and its
  redirections only read such paths or write to ``/dev/null`` or another descriptor (``2>&1``); heredocs ask.
  Relative paths are judged from ``/workspace``, where the shell starts (``cd`` elsewhere asks; a shell a person
  let move is not followed, but credential files are denied by name wherever the shell is).

Not recognised on purpose: ``python -c``, ``awk``, ``sed``, ``xargs``, ``env CMD``, ``tee``, package managers,
``curl``: each can run code or write, and telling which from the words alone is guesswork.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from corral.harness.policy.paths import READABLE, inside
from corral.harness.policy.shell import Pipeline, Redirect, Simple


def _names(text: str) -> list[str]:
    """Names written as one string (command names such as ``grep`` are not tool names here)."""
    return text.split()


@dataclass(frozen=True)
class _Reader:
    #: options that write, delete or run programs; a two-character one (``-o``) is also found in a cluster (``-ro``)
    forbidden: tuple[str, ...] = ()
    #: at most this many operands (``uniq IN OUT`` writes OUT)
    max_operands: int | None = None
    #: its operands are paths (not for ``echo`` and the like, whose words are only printed)
    paths: bool = True


_PLAIN = _Reader()
_WORDS = _Reader(paths=False)
_READERS: dict[str, _Reader] = {
    **dict.fromkeys(_names("ls cat head tail wc stat du df realpath readlink cut tr nl diff cmp comm"), _PLAIN),
    **dict.fromkeys(_names("md5sum sha1sum sha256sum sha512sum tac rev column fold od hexdump strings"), _PLAIN),
    **dict.fromkeys(_names("grep egrep fgrep which cd pwd whoami id uname printenv"), _PLAIN),
    **dict.fromkeys(_names("echo basename dirname seq true false"), _WORDS),
    "printf": _Reader(("-v",), paths=False),
    "date": _Reader(("-s", "--set"), paths=False),
    "file": _Reader(("-C", "--compile")),
    "tree": _Reader(("-o",)),
    "sort": _Reader(("-o", "--output", "--compress-program")),
    "uniq": _Reader(max_operands=1),
    "rg": _Reader(("--pre",)),
    "find": _Reader(("-delete", "-exec", "-ok", "-fprint", "-fls")),
}
_GIT_READS = frozenset(_names("status log diff show rev-parse ls-files blame branch"))
_GIT_FORBIDDEN = ("--output", "--ext-diff")
_BRANCH_LISTING = frozenset(_names("-a -r -v -vv --all --remotes --list --show-current --verbose"))


def read_only(command: str, pipelines: Sequence[Pipeline]) -> bool:
    """``command`` (parsed as ``pipelines``) only inspects the workspace."""
    if any(mark in command for mark in ("$", "`", "<(", ">(")):
        return False
    return all(_simple(simple) for pipeline in pipelines for simple in pipeline)


def _simple(simple: Simple) -> bool:
    if not simple.words or not all(_redirect(redirect) for redirect in simple.redirects):
        return False
    name, args = simple.words[0], list(simple.words[1:])
    if name == "git":
        return _git(args)
    reader = _READERS.get(name)
    return reader is not None and _allowed(reader, args)


def _redirect(redirect: Redirect) -> bool:
    if redirect.op in ("<<", "<<<", "<<-"):
        return False
    if redirect.writes:
        return redirect.target == "/dev/null"
    return redirect.op.endswith("&") or inside(redirect.target, READABLE)


def _allowed(reader: _Reader, args: list[str]) -> bool:
    options = [arg for arg in args if arg.startswith("-")]
    if any(_forbidden(option, reader.forbidden) for option in options):
        return False
    operands = [arg for arg in args if not arg.startswith("-")]
    if reader.max_operands is not None and len(operands) > reader.max_operands:
        return False
    return not reader.paths or all(_readable(arg) for arg in args)


def _forbidden(option: str, forbidden: tuple[str, ...]) -> bool:
    for banned in forbidden:
        if option.startswith(banned):
            return True
        short = len(banned) == 2 and not option.startswith("--")
        if short and banned[1] in option[1:]:
            return True
    return False


def _readable(arg: str) -> bool:
    """An operand, or an option's ``=value``, lies in the readable places (every word is taken as a path: a
    pattern like ``^/etc`` asks too, which is the safe way to be wrong)."""
    if arg.startswith("-"):
        return "=" not in arg or inside(arg.split("=", 1)[1], READABLE)
    return inside(arg, READABLE)


def _git(args: list[str]) -> bool:
    while args and args[0] in ("-C", "--no-pager"):
        if args[0] == "-C":
            if len(args) < 2 or not inside(args[1], READABLE):
                return False
            args = args[1:]
        args = args[1:]
    if not args or args[0] not in _GIT_READS:
        return False
    sub, rest = args[0], args[1:]
    if any(arg.startswith(_GIT_FORBIDDEN) for arg in rest):
        return False
    if sub == "branch" and not set(rest) <= _BRANCH_LISTING:
        return False
    return all(_readable(arg) for arg in rest)
