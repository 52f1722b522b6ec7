"""A session's ``github_repository`` resources in its sandbox: each cloned into the workspace by a set-up step.

For every ``github_repository`` of the session (its record's ``resources``, wire objects: ``url``, ``mount_path``,
``checkout``), ``GithubAttachments.attachments`` gives a ``GitClone`` step. The step is a shell script run in each
fresh sandbox before its first call:

* when ``<mount_path>/.git`` exists it does nothing: the workspace outlives sandboxes, and the agent's work in
  the clone (commits, branches) is never touched again;
* otherwise it clones ``url`` through the sandbox's egress proxy (the sandbox's ``HTTP(S)_PROXY``) into a
  temporary directory beside ``mount_path``, checks out the requested branch (``git clone --branch``) or commit
  (detached; fetched by sha when no branch has it), sets a commit identity in the clone's own config, and only
  then moves it into place: a failed step leaves nothing behind, so the next fresh sandbox tries again;
* ``mount_path`` must be under ``/workspace`` (the only place that outlives a sandbox): elsewhere the step fails
  as a ``repository_checkout_error`` without cloning.

The token is never part of the step: the egress proxy adds it to the requests for that repository
(``corral.egress.repositories``). Nothing in the clone's config, its remote URL or the sandbox's environment
holds it.

A failed step is reported as the ``session.error`` its output shows (api.md §7.3; ``classify``), each with
``repository_url``: 401 or no credentials → ``repository_authentication_error``; 403 →
``repository_forbidden_error``; 404 → ``repository_not_found_error``; a branch or commit that is not there →
``repository_checkout_error``; anything else → ``repository_clone_error``. The session keeps running without
the repository.

A token rotated (``resources.update``) or a repository removed while a sandbox runs reaches its egress channel
before the session's next sandbox call, in whichever process runs it: ``before_call`` compares the session's
repositories (ids and ``updated_at``, which every update stamps) with what this process last saw of them, and on
a change asks the egress to fetch the session's tokens afresh (``refresh``). Nothing is sent between processes:
the record is the truth, read at each call as the file resources' part does.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from corral._types import JSONObject, json_list, json_object
from corral.errors import CorralError, NotFound
from corral.resources.records import SessionReader
from corral.sandbox.attach import Attachments, SessionAttachments, Setup
from corral.sandbox.base import ProvisionNotice

log = logging.getLogger(__name__)
Refresh = Callable[[str], Awaitable[None]]
"""Give the open egress channels of a session its credentials afresh (``EgressClient.refresh``)."""
Seen = tuple[tuple[str, str], ...]

GITHUB_REPOSITORY: Final = "github_repository"
WORKSPACE: Final = "/workspace"
AUTHENTICATION: Final = "repository_authentication_error"
FORBIDDEN: Final = "repository_forbidden_error"
NOT_FOUND: Final = "repository_not_found_error"
CHECKOUT: Final = "repository_checkout_error"
CLONE: Final = "repository_clone_error"
#: what the step prints before failing at checkout (the clone itself worked)
CHECKOUT_MARK: Final = "corral: checkout failed"
#: the commit identity of the agent's commits (the clone's own config; never a credential)
IDENTITY: Final = ("corral agent", "agent@corral.invalid")
CLONE_SECONDS: Final = 120.0

_PATTERNS: Final = (
    (CHECKOUT, re.compile(re.escape(CHECKOUT_MARK) + r"|Remote branch .* not found|not a valid (ref|object)")),
    (AUTHENTICATION, re.compile(r"error: 401|could not read (Username|Password)|Authentication failed")),
    (FORBIDDEN, re.compile(r"error: 403")),
    (NOT_FOUND, re.compile(r"error: 404|repository '.*' not found")),
)


def classify(output: str) -> str:
    """The ``session.error`` type of a failed clone, from what git said."""
    if "corral egress refused" in output:  # the environment's networking, not the repository, said no
        return CLONE
    return next((kind for kind, pattern in _PATTERNS if pattern.search(output)), CLONE)


@dataclass(frozen=True)
class GitClone(Setup):
    """The set-up step of one repository; its failure's type is read from git's output (``classify``)."""

    def failed(self, output: str) -> ProvisionNotice:
        return ProvisionNotice(classify(output), f"{self.label}: {output.strip()[-500:]}", self.fields)


def default_mount_path(url: str) -> str:
    """``/workspace/<repository name>`` (``.git`` dropped), as api.md §8 defaults it."""
    name = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    return f"{WORKSPACE}/{name or 'repository'}"


def _checkout(checkout: JSONObject | None) -> tuple[str | None, str | None]:
    """(branch, commit sha) of a ``checkout`` object (both None: the default branch)."""
    if checkout is None:
        return None, None
    if checkout.get("type") == "branch":
        return str(checkout.get("name")), None
    if checkout.get("type") == "commit":
        return None, str(checkout.get("sha"))
    return None, None


def _under_workspace(path: str) -> bool:
    parts = path.split("/")
    return path.startswith(WORKSPACE + "/") and not any(part in ("", ".", "..") for part in parts[1:])


def clone_script(url: str, mount_path: str, branch: str | None, sha: str | None) -> str:
    """The idempotent shell step that clones ``url`` into ``mount_path`` (see the module docstring)."""
    q = shlex.quote
    if not _under_workspace(mount_path):
        return f"echo {q(f'{CHECKOUT_MARK}: {mount_path} is not under {WORKSPACE}')}; exit 1"
    name = mount_path.rsplit("/", 1)[1]
    fetch = f"--branch {q(branch)}" if branch else ("--no-checkout" if sha else "")
    lines = [
        f'dest={q(mount_path)}; parent=$(dirname "$dest"); stale="$parent/"{q(f".corral-clone-{name}.")}',
        '[ -e "$dest/.git" ] && exit 0',
        "export GIT_TERMINAL_PROMPT=0",
        'mkdir -p "$parent" && rm -rf "$stale"* && tmp=$(mktemp -d "${stale}XXXXXX") || exit 1',
        "trap 'rm -rf \"$tmp\"' EXIT",
        f'git clone --quiet {fetch} -- {q(url)} "$tmp/r" 2>&1 || exit 1',
        'cd "$tmp/r" || exit 1',
    ]
    if sha:
        detach = f"git checkout --quiet --detach {q(sha)}"
        lines.append(
            f"{{ {detach} 2>/dev/null || {{ git fetch --quiet origin {q(sha)} && {detach}; }}; }} 2>&1"
            f" || {{ echo {q(f'{CHECKOUT_MARK}: commit {sha}')}; exit 1; }}"
        )
    lines += [
        f"git config user.name {q(IDENTITY[0])} && git config user.email {q(IDENTITY[1])} || exit 1",
        'cd / && { rmdir "$dest" 2>/dev/null; mv -T "$tmp/r" "$dest" 2>&1; } || exit 1',
    ]
    return "\n".join(lines)


def clone_step(resource: JSONObject) -> GitClone | None:
    """The step of one ``github_repository`` wire object (None for any other resource)."""
    url = resource.get("url")
    if resource.get("type") != GITHUB_REPOSITORY or not isinstance(url, str):
        return None
    mount = resource.get("mount_path")
    mount_path = mount if isinstance(mount, str) and mount else default_mount_path(url)
    branch, sha = _checkout(json_object(resource.get("checkout")))
    return GitClone(
        label=f"cloning {url} into {mount_path}",
        command=clone_script(url, mount_path, branch, sha),
        error_type=CLONE,
        fields=(("repository_url", url),),
        timeout_seconds=CLONE_SECONDS,
    )


def github_resources(doc: JSONObject) -> list[JSONObject]:
    """The ``github_repository`` resources of a session record's document."""
    found = [json_object(item) for item in json_list(doc.get("resources")) or []]
    return [item for item in found if item is not None and item.get("type") == GITHUB_REPOSITORY]


def _seen(doc: JSONObject) -> Seen:
    """What tells a rotation or a removal apart: each repository's id and ``updated_at``."""
    return tuple(sorted((str(r.get("id")), str(r.get("updated_at"))) for r in github_resources(doc)))


class GithubAttachments(SessionAttachments):
    """The clone steps of a session's repositories, read from its record at every provisioning; and, before each
    call, a rotated token handed to the egress (``refresh``; None: the sandboxes have no egress to tell)."""

    def __init__(self, sessions: SessionReader, refresh: Refresh | None = None) -> None:
        self.sessions = sessions
        self.refresh = refresh
        #: per session, its repositories as the egress channels of this process last got their tokens
        self._seen: dict[str, Seen] = {}

    async def attachments(self, workspace_id: str, session_id: str) -> Attachments:
        try:
            record = await self.sessions.get_session(session_id, workspace_id)
        except NotFound:
            return Attachments()
        # asked before the sandbox's channel opens (with the tokens of now or later): what it starts with
        self._remember(session_id, _seen(record.doc))
        steps = [clone_step(resource) for resource in github_resources(record.doc)]
        return Attachments(setup=tuple(step for step in steps if step is not None))

    async def before_call(self, workspace_id: str, session_id: str, tool_name: str) -> None:
        if self.refresh is None:
            return
        try:
            record = await self.sessions.get_session(session_id, workspace_id)
        except NotFound:
            return
        seen = _seen(record.doc)
        if self._seen.get(session_id, ()) == seen:
            return
        try:
            await self.refresh(session_id)  # reads the tokens after the record: never older than ``seen``
        except CorralError as exc:  # the call runs with the tokens it had; the next call tries again
            log.warning("session %s: its repository tokens could not reach the egress: %s", session_id, exc.message)
            return
        self._remember(session_id, seen)

    def _remember(self, session_id: str, seen: Seen) -> None:
        if seen:
            self._seen[session_id] = seen
        else:  # most sessions have no repository: keep nothing for them
            self._seen.pop(session_id, None)

    async def forget(self, session_id: str) -> None:
        self._seen.pop(session_id, None)
