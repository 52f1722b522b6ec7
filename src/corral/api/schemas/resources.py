"""Request bodies of session resources (api.md §5.2 ``resources``, §8; api-types.md ``…ResourceParams``).

Every rule one value decides is checked here, at parse time, so a refused request writes nothing: a
``mount_path`` is absolute and plain (no ``..``, no NUL, neither ``/`` nor ``/workspace`` itself; ``.`` segments
and repeated or trailing slashes are normalised away), a repository ``url`` is an http(s) URL of a host and an
``owner/repo`` path (``.git`` allowed), a commit ``sha`` is 7 to 40 hexadecimal digits. Unknown fields are a 400
naming them (``Strict``). Rules across resources or against what is stored are ``corral.api.resource_ops``'.
"""

from __future__ import annotations

import posixpath
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from corral.wire import Strict

INSTRUCTIONS_MAX = 4096
_SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")
RESERVED_MOUNTS = frozenset({"/", "/workspace"})


def mount_path(value: str) -> str:
    if "\0" in value or not value.startswith("/"):
        raise ValueError("mount_path must be an absolute path without NUL characters")
    if ".." in value.split("/"):
        raise ValueError("mount_path must not contain '..'")
    normal = posixpath.normpath(value)
    if normal.startswith("//"):  # normpath keeps a leading double slash (POSIX leaves its meaning open)
        normal = "/" + normal.lstrip("/")
    if normal in RESERVED_MOUNTS:
        raise ValueError(f"mount_path cannot be {normal!r} itself")
    return normal


def repo_name(url: str) -> str:
    """The repository's name: the last segment of the URL's path, ``.git`` stripped."""
    last = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    return last.removesuffix(".git")


def repository_url(value: str) -> str:
    parts = urlsplit(value)
    segments = [segment for segment in parts.path.split("/") if segment]
    valid = (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not parts.query
        and not parts.fragment
        and not parts.username
        and not parts.password
        and len(segments) >= 2
        and all(_SEGMENT.match(segment) and segment not in (".", "..") for segment in segments)
        and repo_name(value) not in ("", ".", "..")
    )
    if not valid:
        raise ValueError(
            "url must be the http(s) URL of a repository: a host and an owner/repo path, without credentials,"
            " query or fragment (for example https://github.com/owner/repo or https://github.com/owner/repo.git)"
        )
    return value


def commit_sha(value: str) -> str:
    if not _SHA.match(value):
        raise ValueError("sha must be 7 to 40 hexadecimal digits")
    return value.lower()


MountPath = Annotated[str, AfterValidator(mount_path)]


class BranchCheckout(Strict):
    type: Literal["branch"]
    name: Annotated[str, Field(min_length=1, max_length=255)]


class CommitCheckout(Strict):
    type: Literal["commit"]
    sha: Annotated[str, AfterValidator(commit_sha)]


Checkout = Annotated[BranchCheckout | CommitCheckout, Field(discriminator="type")]


class GitHubRepositoryParams(Strict):
    type: Literal["github_repository"]
    url: Annotated[str, AfterValidator(repository_url)]
    authorization_token: Annotated[str, Field(min_length=1, max_length=8192)] | None = None
    checkout: Checkout | None = None
    mount_path: MountPath | None = None


class FileParams(Strict):
    type: Literal["file"]
    file_id: str
    mount_path: MountPath | None = None


class MemoryStoreParams(Strict):
    type: Literal["memory_store"]
    memory_store_id: str
    access: Literal["read_write", "read_only"] | None = None
    instructions: Annotated[str, Field(max_length=INSTRUCTIONS_MAX)] | None = None


ResourceParam = Annotated[GitHubRepositoryParams | FileParams | MemoryStoreParams, Field(discriminator="type")]
"""One entry of a session's ``resources`` at creation."""

ResourceAdd = ResourceParam
"""``POST /v1/sessions/{id}/resources``: the SDK types ``file`` only, the docs also allow ``github_repository``;
``memory_store`` parses so that its refusal can say why (stores attach at creation only)."""


class ResourceUpdate(Strict):
    """``POST /v1/sessions/{id}/resources/{resource_id}``: rotate a repository's token."""

    authorization_token: Annotated[str, Field(min_length=1, max_length=8192)]
