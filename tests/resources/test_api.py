"""``client.beta.sessions.resources`` and ``sessions.create(resources=…)`` through the official SDK, on both engines:
every method, the resolved wire objects, pagination to the end, ``sessions.list(memory_store_id=…)``, typed errors
and workspace scoping. Every body read is validated strictly against the SDK's models."""

from __future__ import annotations

import json

import anthropic
import anyio
import pytest
from anthropic.types.beta import BetaManagedAgentsSession
from anthropic.types.beta.sessions import BetaManagedAgentsDeleteSessionResource, BetaManagedAgentsFileResource

from tests.conformance.helpers import new_session, validated
from tests.live import LiveServer
from tests.resources.helpers import (
    RESOURCE,
    add_raw,
    as_file,
    as_repository,
    created,
    id_of,
    new_store,
    repo,
    resource_of,
    upload,
)
from tests.sdk_server import async_sdk


def test_a_session_is_created_with_resources_of_every_kind(client: anthropic.Anthropic) -> None:
    file_id = upload(client)
    store = new_store(client, "User Preferences!", description="What the user likes")
    session = created(
        client,
        [
            {"type": "file", "file_id": file_id},
            {"type": "memory_store", "memory_store_id": store.id, "instructions": "Keep it tidy"},
            repo(checkout={"type": "branch", "name": "main"}),
            repo("https://example.com/a/b", mount_path="/src//b/./", checkout={"type": "commit", "sha": "ABCDEF1"}),
        ],
    )
    file, memory, widgets, other = session.resources
    assert file.type == "file" and file.file_id == file_id and file.mount_path == f"/mnt/session/uploads/{file_id}"
    assert memory.type == "memory_store" and memory.memory_store_id == store.id
    assert (memory.name, memory.description, memory.instructions, memory.access, memory.mount_path) == (
        "User Preferences!",
        "What the user likes",
        "Keep it tidy",
        "read_write",
        "/mnt/memory/user-preferences",
    )
    assert widgets.type == "github_repository" and widgets.mount_path == "/workspace/widgets"
    assert widgets.checkout is not None and widgets.checkout.type == "branch" and widgets.checkout.name == "main"
    assert other.type == "github_repository" and other.mount_path == "/src/b"
    assert other.checkout is not None and other.checkout.type == "commit" and other.checkout.sha == "abcdef1"
    raw = json.loads(client.beta.sessions.with_raw_response.retrieve(session.id).text())
    ids = [resource["id"] for resource in raw["resources"]]
    assert all(i.startswith("sesrsc_") for i in ids) and ids == sorted(ids)
    assert all(r["created_at"] == r["updated_at"] == raw["resources"][0]["created_at"] for r in raw["resources"])
    again = validated(BetaManagedAgentsSession, client.beta.sessions.with_raw_response.retrieve(session.id))
    assert again.resources == session.resources


def test_a_store_is_snapshotted_and_slugs_are_made_unique(client: anthropic.Anthropic) -> None:
    first, second, third = new_store(client, "Notes"), new_store(client, "notes"), new_store(client, "  NOTES  ")
    session = created(
        client,
        [
            {"type": "memory_store", "memory_store_id": first.id, "access": "read_only"},
            {"type": "memory_store", "memory_store_id": second.id},
            {"type": "memory_store", "memory_store_id": third.id},
        ],
    )
    mounts = [r.mount_path for r in session.resources if r.type == "memory_store"]
    assert mounts == ["/mnt/memory/notes", "/mnt/memory/notes-2", "/mnt/memory/notes-3"]
    client.beta.memory_stores.update(first.id, name="renamed", description="changed")
    (attached, *_) = client.beta.sessions.retrieve(session.id).resources
    assert attached.type == "memory_store" and attached.access == "read_only"
    assert (attached.name, attached.description, attached.instructions) == ("Notes", "", None)


def test_add_list_retrieve_update_delete(client: anthropic.Anthropic) -> None:
    session = new_session(client)
    file_id = upload(client)
    raw = client.beta.sessions.resources.with_raw_response.add(session.id, type="file", file_id=file_id)
    added = validated(BetaManagedAgentsFileResource, raw)
    assert added.id.startswith("sesrsc_") and added.mount_path == f"/mnt/session/uploads/{file_id}"
    placed = client.beta.sessions.resources.add(
        session.id, type="file", file_id=file_id, mount_path="/uploads/receipt.pdf"
    )
    assert placed.mount_path == "/uploads/receipt.pdf" and placed.file_id == file_id
    repository = as_repository(add_raw(client, session.id, repo(authorization_token="ghp_first")))
    assert repository.type == "github_repository" and repository.mount_path == "/workspace/widgets"
    rotated = resource_of(
        client.beta.sessions.resources.with_raw_response.update(
            repository.id, session_id=session.id, authorization_token="ghp_second"
        )
    )
    assert rotated.type == "github_repository" and rotated.updated_at > repository.updated_at
    assert rotated.created_at == repository.created_at
    fetched = resource_of(client.beta.sessions.resources.with_raw_response.retrieve(placed.id, session_id=session.id))
    assert fetched.type == "file" and fetched.model_dump() == placed.model_dump()
    listed = [id_of(r) for r in client.beta.sessions.resources.list(session.id)]
    in_doc = [id_of(r) for r in client.beta.sessions.retrieve(session.id).resources]
    assert listed == [added.id, placed.id, repository.id] == in_doc
    deleted = validated(
        BetaManagedAgentsDeleteSessionResource,
        client.beta.sessions.resources.with_raw_response.delete(added.id, session_id=session.id),
    )
    assert (deleted.id, deleted.type) == (added.id, "session_resource_deleted")
    with pytest.raises(anthropic.NotFoundError):
        client.beta.sessions.resources.retrieve(added.id, session_id=session.id)
    with pytest.raises(anthropic.NotFoundError):
        client.beta.sessions.resources.delete(added.id, session_id=session.id)
    client.beta.sessions.resources.delete(repository.id, session_id=session.id)
    assert [id_of(r) for r in client.beta.sessions.resources.list(session.id)] == [placed.id]


def test_list_pages_to_the_end(client: anthropic.Anthropic) -> None:
    file_id = upload(client)
    session = created(client, [{"type": "file", "file_id": file_id, "mount_path": f"/in/{n}"} for n in range(5)])
    for more in range(2):
        client.beta.sessions.resources.add(session.id, type="file", file_id=file_id, mount_path=f"/more/{more}")
    every = [id_of(r) for r in client.beta.sessions.retrieve(session.id).resources]
    assert len(every) == 7
    assert [id_of(r) for r in client.beta.sessions.resources.list(session.id)] == every  # no limit: all of them
    first = client.beta.sessions.resources.list(session.id, limit=3)
    assert len(first.data) == 3 and first.next_page is not None
    assert [id_of(r) for r in client.beta.sessions.resources.list(session.id, limit=3)] == every  # the auto-pager
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        raw = client.beta.sessions.resources.with_raw_response.list(session.id, limit=2, page=token or anthropic.omit)
        body = json.loads(raw.text())
        pages.append([id_of(RESOURCE.validate_python(item)) for item in body["data"]])
        token = body["next_page"]
        if token is None:
            break
    assert pages == [every[0:2], every[2:4], every[4:6], every[6:7]]
    refusals = (
        lambda: client.beta.sessions.resources.list(session.id, limit=0),
        lambda: client.beta.sessions.resources.list(session.id, limit=1001),
        lambda: client.beta.sessions.resources.list(session.id, page="page_nonsense"),
        lambda: client.beta.sessions.resources.list(new_session(client).id, page=first.next_page or ""),
    )
    for refusal in refusals:
        with pytest.raises(anthropic.BadRequestError):
            refusal()


def test_sessions_are_found_by_the_memory_store_they_attach(client: anthropic.Anthropic) -> None:
    store, unused = new_store(client), new_store(client)
    with_store = [created(client, [{"type": "memory_store", "memory_store_id": store.id}]).id for _ in range(3)]
    created(client, [])
    found = [s.id for s in client.beta.sessions.list(memory_store_id=store.id, order="asc")]
    assert found == with_store
    assert [s.id for s in client.beta.sessions.list(memory_store_id=store.id, limit=2)] == with_store[::-1]
    assert list(client.beta.sessions.list(memory_store_id=unused.id)) == []
    client.beta.sessions.delete(with_store[0])
    assert [s.id for s in client.beta.sessions.list(memory_store_id=store.id, order="asc")] == with_store[1:]


def test_ids_of_other_workspaces_and_sessions_are_404(client: anthropic.Anthropic, other: anthropic.Anthropic) -> None:
    session = created(client, [{"type": "file", "file_id": upload(client)}])
    resource = as_file(session.resources[0])
    assert resource.type == "file"
    theirs = new_session(other)
    calls = (
        lambda: other.beta.sessions.resources.retrieve(resource.id, session_id=session.id),
        lambda: other.beta.sessions.resources.list(session.id),
        lambda: other.beta.sessions.resources.delete(resource.id, session_id=session.id),
        lambda: other.beta.sessions.resources.add(session.id, type="file", file_id=resource.file_id),
        lambda: other.beta.sessions.resources.add(theirs.id, type="file", file_id=resource.file_id),
        lambda: client.beta.sessions.resources.retrieve(resource.id, session_id=new_session(client).id),
        lambda: client.beta.sessions.resources.retrieve("sesrsc_missing", session_id=session.id),
        lambda: client.beta.sessions.resources.retrieve(session.id, session_id=session.id),
        lambda: client.beta.sessions.resources.list("sesn_missing"),
    )
    for call in calls:
        with pytest.raises(anthropic.NotFoundError):
            call()
    assert [id_of(r) for r in client.beta.sessions.resources.list(session.id)] == [resource.id]
    assert other.beta.sessions.retrieve(theirs.id).resources == []


async def _add_many(server: LiveServer, session_id: str, file_id: str, count: int) -> list[str]:
    added: list[str] = []
    async with async_sdk(server) as client:

        async def add(index: int) -> None:
            made = await client.beta.sessions.resources.add(
                session_id, type="file", file_id=file_id, mount_path=f"/concurrent/{index}"
            )
            added.append(made.id)

        async with anyio.create_task_group() as group:
            for index in range(count):
                group.start_soon(add, index)
    return added


def test_concurrent_adds_lose_none(client: anthropic.Anthropic, server: LiveServer) -> None:
    session, file_id = new_session(client), upload(client)
    added = anyio.run(_add_many, server, session.id, file_id, 12)
    kept = [id_of(r) for r in client.beta.sessions.resources.list(session.id)]
    assert sorted(kept) == sorted(added) and len(set(kept)) == 12
