"""``RuleJudge``: the default judge of the ``auto`` policy, a written rule set (api.md §19.3).

``auto`` is not a human checkpoint: what this allows runs before anyone sees it. So it allows only what it can
see is harmless, denies what it can see is destructive, and asks about everything else. The rules, by tool:

* ``read`` / ``glob`` / ``grep``: **allow** inside the workspace or ``/tmp`` (reading is the work);
  **deny** ``high_risk`` for credential files (SSH keys, shell histories, cloud credentials, ``/etc/shadow``,
  a process's ``environ``: reading them is how credentials leave); **ask** elsewhere (the rest of the
  filesystem is not the work: a person decides).
* ``write`` / ``edit``: **allow** inside ``/workspace``, except under a ``.git`` directory: **ask** there
  (git runs programs its configuration and hooks name, so a write there is a way to run code later);
  **deny** ``high_risk`` outside the workspace (the work never changes the system) and for credential files.
* ``bash``: **deny** ``high_risk`` for destructive patterns (``policy.destructive``); **allow** read-only
  inspection of the workspace (``policy.readers``: ``ls``, ``cat``, ``grep``, ``find`` without
  ``-delete``/``-exec``, ``git status``/``log``/``diff`` …); **allow** ``restart``; **ask** for everything
  else, a command the rules cannot read included (``python -c``, builds, installs, network tools …).
* ``web_fetch`` / ``web_search``: **allow** when the tool's config restricts it to ``allowed_domains``
  (the operator chose where it may go); **ask** otherwise.
* MCP tools: **allow** when the tool's name says it only reads (``get_``, ``list_``, ``search_``, ``read_``,
  ``describe_`` and their camelCase forms: ``getIssue``); **ask** otherwise. The name is the server's word,
  so only reading is ever allowed on it.
* A malformed input, or a tool the rules do not know: **ask**.

The rules never return deny ``indeterminate``: that is for a judge that could not judge and must not wait
for a person (a model judge out of credits, say).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from typing import Final

import anyio.to_thread

from corral.harness.policy.destructive import denial
from corral.harness.policy.judge import JudgeContext, JudgedCall, Verdict
from corral.harness.policy.paths import READABLE, WORKSPACE, inside, location, sensitive
from corral.harness.policy.readers import read_only
from corral.harness.policy.shell import nested, parse
from corral.vocab.tools import BASH, EDIT, GLOB, GREP, READ, WEB_FETCH, WEB_SEARCH, WRITE

MAX_COMMAND: Final = 16 * 1024
"""Longer commands are not read at all (ask): judging cost stays bounded."""
INLINE: Final = 256
"""Commands up to this long are judged on the event loop (a few milliseconds at worst); longer ones in a thread."""

_READ_ONLY_MCP = re.compile(r"^(?:get|list|search|read|describe)(?:[_\-.]|[A-Z])")


class RuleJudge:
    """The written rule set; see the module docstring for every rule and its reason."""

    async def judge(self, call: JudgedCall, context: JudgeContext) -> Verdict:
        command = call.input.get("command")
        if isinstance(command, str) and len(command) > INLINE:
            return await anyio.to_thread.run_sync(self.verdict, call)
        return self.verdict(call)

    def verdict(self, call: JudgedCall) -> Verdict:
        if call.kind == "mcp":
            return mcp(call.name)
        rule = _BUILTIN.get(call.name)
        return rule(call) if rule is not None else Verdict.ask("unknown_tool")


def mcp(name: str) -> Verdict:
    return Verdict.allow("mcp_read_only_name") if _READ_ONLY_MCP.match(name) else Verdict.ask("mcp_tool")


def bash(call: JudgedCall) -> Verdict:
    command = call.input.get("command")
    if not isinstance(command, str) or not command.strip():
        return Verdict.allow("bash_restart") if call.input.get("restart") is True else Verdict.ask("bash_no_command")
    if len(command) > MAX_COMMAND:
        return Verdict.ask("bash_too_long")
    rule = denial(command)
    if rule is not None:
        return Verdict.deny(f"bash_{rule}")
    pipelines = parse(command)
    if pipelines is None or nested(command) is None:
        return Verdict.ask("bash_unreadable")
    if read_only(command, pipelines):
        return Verdict.allow("bash_read_only")
    return Verdict.ask("bash_unrecognised")


def read(call: JudgedCall) -> Verdict:
    path = call.input.get("file_path")
    if not isinstance(path, str) or not path:
        return Verdict.ask("read_no_path")
    return _reading(path)


def search(call: JudgedCall) -> Verdict:
    """``glob`` / ``grep``: the directory searched (default: the workspace), and a pattern that names a path."""
    path, pattern = call.input.get("path"), call.input.get("pattern")
    if not isinstance(pattern, str) or (path is not None and not isinstance(path, str)):
        return Verdict.ask("search_malformed")
    where = path or "."
    if call.name == GLOB:  # the pattern's fixed leading part is a path too (``/etc/**``, ``../../*``)
        where = posixpath.join(where, re.split(r"[*?\[{]", pattern, maxsplit=1)[0])
    return _reading(where)


def _reading(path: str) -> Verdict:
    if sensitive(path):
        return Verdict.deny("read_credential_file")
    if inside(path, READABLE):
        return Verdict.allow("read_in_workspace")
    return Verdict.ask("read_outside_workspace")


def write(call: JudgedCall) -> Verdict:
    path = call.input.get("file_path")
    if not isinstance(path, str) or not path:
        return Verdict.ask("write_no_path")
    if sensitive(path):
        return Verdict.deny("write_credential_file")
    if not inside(path, (WORKSPACE,)):
        return Verdict.deny("write_outside_workspace")
    if ".git" in (location(path) or "").split("/"):
        return Verdict.ask("write_git_internals")
    return Verdict.allow("write_in_workspace")


def web(call: JudgedCall) -> Verdict:
    domains = call.config.get("allowed_domains")
    if isinstance(domains, list) and domains:
        return Verdict.allow("web_allowed_domains")
    return Verdict.ask("web_unrestricted")


_BUILTIN: Mapping[str, Callable[[JudgedCall], Verdict]] = {
    BASH: bash,
    READ: read,
    GLOB: search,
    GREP: search,
    WRITE: write,
    EDIT: write,
    WEB_FETCH: web,
    WEB_SEARCH: web,
}
