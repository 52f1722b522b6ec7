"""Session resources: what a request asks for becomes the wire objects a session's doc holds (api.md §5.2, §8).

Each resource in ``doc.resources`` is exactly what ``GET …/resources/{id}`` returns: ``type``, ``id``
(``sesrsc_…``), ``created_at``, ``updated_at`` and the fields of its kind, ``mount_path`` resolved:

* ``file``: ``file_id``; mounted at ``/mnt/session/uploads/<file_id>`` unless told otherwise;
* ``github_repository``: ``url``, ``checkout`` (or null); at ``/workspace/<repo-name>`` unless told otherwise;
* ``memory_store``: ``memory_store_id``, ``access`` (``read_write`` unless told), ``instructions``, and the
  store's ``name`` and ``description`` as they were when attached; at ``/mnt/memory/<slug>`` (output only), the
  slug being the lower-cased name with each run of other characters than ASCII letters and digits turned into one
  hyphen (none at either end); stores of one session sharing a slug get ``-2``, ``-3`` … in attach order.

Invariants:

* Everything is checked before anything is written: a file must be a live file of the workspace (404, as the
  Files API answers), a memory store must be one of the workspace's (404) and not archived (400), at most
  ``MEMORY_STORES_MAX`` stores and no store twice, at most ``FILES_MAX`` files; mount paths are unique within the
  session (checked again under the session's lock, ``corral.session.resources``).
* A repository's ``authorization_token`` is never in a resource: it is sealed into
  ``VaultStore.resource_tokens``' table in the same transaction that writes the resource.
* Resource ids of one request are handed out in ascending order, so a session's resources read in doc order are
  also in ``(created_at, id)`` order: the order ``list`` pages in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from corral._types import JSONObject
from corral.api.schemas.resources import FileParams, GitHubRepositoryParams, MemoryStoreParams, ResourceParam, repo_name
from corral.compose.services import Services
from corral.db import Flow
from corral.errors import ErrorCode, InvalidRequest, NotFound
from corral.ids import new_id, now, rfc3339
from corral.session.resources import Also
from corral.vault import resource_tokens

FILE_MOUNTS = "/mnt/session/uploads"
MEMORY_MOUNTS = "/mnt/memory"
REPOSITORY_MOUNTS = "/workspace"
MEMORY_STORES_MAX = 8
FILES_MAX = 999
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def slug(name: str) -> str:
    """``User preferences!`` -> ``user-preferences`` (``memory`` when nothing is left)."""
    return _NOT_ALNUM.sub("-", name.lower()).strip("-") or "memory"


@dataclass
class Built:
    """The resources of one request, and the tokens to seal with them (resource id -> token)."""

    resources: list[JSONObject] = field(default_factory=lambda: list[JSONObject]())
    tokens: dict[str, str] = field(default_factory=lambda: dict[str, str]())

    def also(self, services: Services, workspace_id: str, session_id: str) -> Also | None:
        """The flow that stores the tokens (None when there are none); sealed now, outside any transaction."""
        if not self.tokens:
            return None
        keyring, stamp = services.vaults.keyring, rfc3339(now())
        sealed = [(rid, resource_tokens.seal(keyring, rid, token)) for rid, token in self.tokens.items()]

        def store() -> Flow[None]:
            for resource_id, one in sealed:
                yield from resource_tokens.store(workspace_id, session_id, resource_id, one, stamp)
            return None

        return store


def _stamped(kind: str, resource_id: str, stamp: str, fields: JSONObject) -> JSONObject:
    return {"type": kind, "id": resource_id, **fields, "created_at": stamp, "updated_at": stamp}


async def _file(services: Services, workspace_id: str, params: FileParams, resource_id: str, stamp: str) -> JSONObject:
    record = await services.files.get(workspace_id, params.file_id)
    if record.expired(stamp):
        raise NotFound(f"file {record.id} expired at {record.expires_at}", code=ErrorCode.FILE_EXPIRED)
    mount = params.mount_path or f"{FILE_MOUNTS}/{record.id}"
    return _stamped("file", resource_id, stamp, {"file_id": record.id, "mount_path": mount})


def _repository(params: GitHubRepositoryParams, resource_id: str, stamp: str) -> JSONObject:
    checkout = None if params.checkout is None else params.checkout.model_dump(mode="json")
    mount = params.mount_path or f"{REPOSITORY_MOUNTS}/{repo_name(params.url)}"
    return _stamped(
        "github_repository", resource_id, stamp, {"url": params.url, "checkout": checkout, "mount_path": mount}
    )


async def _memory_store(
    services: Services, workspace_id: str, params: MemoryStoreParams, resource_id: str, stamp: str
) -> JSONObject:
    store = await services.memory.get_store(workspace_id, params.memory_store_id)
    if store.archived_at is not None:
        raise InvalidRequest(
            f"memory store {store.id} is archived and cannot be attached", code=ErrorCode.MEMORY_STORE_ARCHIVED
        )
    fields: JSONObject = {
        "memory_store_id": store.id,
        "name": store.name,
        "description": store.description,
        "instructions": params.instructions,
        "access": params.access or "read_write",
        "mount_path": f"{MEMORY_MOUNTS}/{slug(store.name)}",
    }
    return _stamped("memory_store", resource_id, stamp, fields)


def _check_counts(params: Sequence[ResourceParam]) -> None:
    stores = [p.memory_store_id for p in params if isinstance(p, MemoryStoreParams)]
    if len(stores) > MEMORY_STORES_MAX:
        raise InvalidRequest(f"a session attaches at most {MEMORY_STORES_MAX} memory stores, got {len(stores)}")
    twice = sorted({store for store in stores if stores.count(store) > 1})
    if twice:
        raise InvalidRequest(f"memory store {twice[0]} is attached twice; attach each store once")
    files = sum(isinstance(p, FileParams) for p in params)
    if files > FILES_MAX:
        raise InvalidRequest(f"a session holds at most {FILES_MAX} file resources, got {files}")


def _unique_memory_mounts(resources: list[JSONObject]) -> None:
    """Stores sharing a slug: the second is ``…/<slug>-2``, the third ``…/<slug>-3`` … (skipping taken ones)."""
    used: set[str] = set()
    for resource in resources:
        if resource["type"] != "memory_store":
            continue
        base = path = str(resource["mount_path"])
        suffix = 1
        while path in used:
            suffix += 1
            path = f"{base}-{suffix}"
        used.add(path)
        resource["mount_path"] = path


def refuse_on_self_hosted(environment_config: Mapping[str, object], params: Sequence[ResourceParam]) -> None:
    """A ``self_hosted`` environment's worker mounts its own data: ``file`` and ``github_repository`` resources
    cannot work there (api.md §10.4; memory stores can: the worker syncs them)."""
    if environment_config.get("type") != "self_hosted":
        return
    kinds = sorted({p.type for p in params if not isinstance(p, MemoryStoreParams)})
    if kinds:
        raise InvalidRequest(
            f"{' and '.join(kinds)} resources are not supported on self_hosted environments: the environment's "
            "worker mounts its own data (pass pointers to it in the session's metadata)",
            code=ErrorCode.SELF_HOSTED_RESOURCES_UNSUPPORTED,
        )


async def build(
    services: Services, workspace_id: str, params: Sequence[ResourceParam], stamp: str | None = None
) -> Built:
    """The resources a request asks for, checked against the workspace (nothing written)."""
    _check_counts(params)
    stamp = stamp or rfc3339(now())
    ids = sorted(new_id("resource") for _ in params)
    built = Built()
    for param, resource_id in zip(params, ids, strict=True):
        if isinstance(param, FileParams):
            built.resources.append(await _file(services, workspace_id, param, resource_id, stamp))
        elif isinstance(param, MemoryStoreParams):
            built.resources.append(await _memory_store(services, workspace_id, param, resource_id, stamp))
        else:
            built.resources.append(_repository(param, resource_id, stamp))
            if param.authorization_token is not None:
                built.tokens[resource_id] = param.authorization_token
    _unique_memory_mounts(built.resources)
    return built
