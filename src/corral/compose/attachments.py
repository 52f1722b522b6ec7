"""Wiring sessions' resources into their sandboxes: the ``SessionAttachments`` the harness workers use.

``session_attachments`` builds one ``corral.resources`` part per kind of resource, on the stores the composition
root opened, with directory mounts under the sandbox provider's ``mount_root``; without a provider (or one that
mounts no host directories) sessions' sandboxes get no attachments. With the ``remote`` provider the sandbox hosts
run the sessions' resources (``compose.hosts`` builds them there): the workers get the provider's ``hooks``, which
forward a turn's end to the host and bring its notices back.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.blobs import BlobStore
from corral.files import FileStore
from corral.hosts.remote import RemoteSandboxProvider
from corral.memory import MemoryStores
from corral.resources import Combined
from corral.resources.files import FileAttachments
from corral.resources.github import GithubAttachments, Refresh
from corral.resources.memory import MemoryAttachments
from corral.resources.outputs import OutputAttachments
from corral.resources.records import SharedReads
from corral.resources.skills import SkillAttachments
from corral.sandbox import SandboxProvider
from corral.sandbox.attach import NO_ATTACHMENTS, SessionAttachments
from corral.session import SessionStore
from corral.skills import SkillStore
from corral.vault import VaultStore


@dataclass(frozen=True)
class Stores:
    """What the resources parts read and write."""

    sessions: SessionStore
    blobs: BlobStore
    files: FileStore
    memory: MemoryStores
    skills: SkillStore
    vaults: VaultStore


def session_attachments(
    stores: Stores, provider: SandboxProvider | None, refresh: Refresh | None = None
) -> SessionAttachments:
    """``refresh``: hands a session's rotated repository tokens to its open egress channels (``EgressClient``)."""
    if isinstance(provider, RemoteSandboxProvider):
        return provider.hooks
    root = provider.mount_root() if provider is not None else None
    if root is None:
        return NO_ATTACHMENTS
    reads = SharedReads(stores.sessions)  # one record read per hook, whichever parts read it
    parts: list[SessionAttachments] = [  # one per kind of resource (files, memory stores, skills, outputs, repos)
        FileAttachments(reads, stores.files, root),
        OutputAttachments(stores.files, root),
        GithubAttachments(reads, refresh),
        SkillAttachments(reads, stores.blobs, root),
        MemoryAttachments(reads, stores.memory, root),
    ]
    return Combined(parts, reads)
