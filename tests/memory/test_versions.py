"""``client.beta.memory_stores.memory_versions`` through the official SDK, on both engines: a version for every
change, who made it, filters and pagination, redaction; and concurrent writers, none of whose updates is lost."""

from __future__ import annotations

import hashlib

import anthropic
import anyio
import pytest
from anthropic.types.beta.memory_stores import BetaManagedAgentsMemoryVersion, BetaManagedAgentsPreconditionParam

from tests.conformance.helpers import unique, validated
from tests.live import LiveServer
from tests.sdk_server import async_sdk


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_every_change_is_a_version_newest_first(keyed: anthropic.Anthropic, key: str) -> None:
    stores = keyed.beta.memory_stores
    store = stores.create(name=unique("versions")).id
    made = stores.memories.create(store, path="/v.md", content="one")
    changed = stores.memories.update(made.id, memory_store_id=store, content="two")
    moved = stores.memories.update(made.id, memory_store_id=store, path="/w.md")
    stores.memories.delete(made.id, memory_store_id=store)
    versions = list(stores.memory_versions.list(store))
    assert [version.operation for version in versions] == ["deleted", "modified", "modified", "created"]
    assert [version.id for version in versions[1:]] == [
        moved.memory_version_id,
        changed.memory_version_id,
        made.memory_version_id,
    ]
    assert [version.path for version in versions] == ["/w.md", "/w.md", "/v.md", "/v.md"]
    assert all(version.content is None for version in versions)  # view=basic is the default of list
    assert [version.content_sha256 for version in versions] == [None, sha("two"), sha("two"), sha("one")]
    assert versions[0].content_size_bytes is None and versions[-1].content_size_bytes == 3
    actors = {version.created_by.model_dump_json() for version in versions if version.created_by is not None}
    assert len(actors) == 1 and all(version.created_by is not None for version in versions)
    actor = versions[0].created_by
    assert actor is not None and actor.type == "api_actor" and actor.api_key_id.startswith("apikey_")
    full = list(stores.memory_versions.list(store, view="full"))
    assert [version.content for version in full] == [None, "two", "two", "one"]
    first = stores.memory_versions.retrieve(made.memory_version_id, memory_store_id=store)
    assert first.content == "one" and first.memory_id == made.id and first.redacted_at is None
    assert stores.memory_versions.retrieve(made.memory_version_id, memory_store_id=store, view="basic").content is None


def test_the_admin_key_is_no_recorded_author(client: anthropic.Anthropic) -> None:
    store = client.beta.memory_stores.create(name=unique("admin")).id
    made = client.beta.memory_stores.memories.create(store, path="/a", content="a")
    version = client.beta.memory_stores.memory_versions.retrieve(made.memory_version_id, memory_store_id=store)
    assert version.created_by is None


def test_version_filters_and_pages(keyed: anthropic.Anthropic, client: anthropic.Anthropic) -> None:
    store = keyed.beta.memory_stores.create(name=unique("filters")).id
    first = keyed.beta.memory_stores.memories.create(store, path="/first", content="1")
    second = client.beta.memory_stores.memories.create(store, path="/second", content="2")
    for index in range(3):
        keyed.beta.memory_stores.memories.update(first.id, memory_store_id=store, content=f"1.{index}")
    versions = keyed.beta.memory_stores.memory_versions
    assert len(list(versions.list(store, limit=2))) == 5  # the SDK's auto-pager, two per page
    assert len(versions.list(store, limit=2).data) == 2
    assert {version.memory_id for version in versions.list(store, memory_id=second.id)} == {second.id}
    assert len(list(versions.list(store, memory_id=first.id))) == 4
    assert len(list(versions.list(store, operation="modified"))) == 3
    assert len(list(versions.list(store, operation="deleted"))) == 0
    author = versions.retrieve(first.memory_version_id, memory_store_id=store).created_by
    assert author is not None and author.type == "api_actor"
    assert len(list(versions.list(store, api_key_id=author.api_key_id))) == 4  # the admin key wrote the other
    assert list(versions.list(store, session_id="sesn_nothing")) == []
    for odd in ("x\x00y", "vlt_0123", ""):  # ids no version can hold: an empty page, as for an unknown id
        assert list(versions.list(store, memory_id=odd)) == list(versions.list(store, api_key_id=odd)) == []
    assert list(versions.list(store, service_account_id="svac_0123")) == []
    since = versions.retrieve(second.memory_version_id, memory_store_id=store).created_at
    assert len(list(versions.list(store, created_at_gte=since))) == 4
    assert len(list(versions.list(store, created_at_lte=since))) == 2


def test_redaction_erases_a_version_but_not_the_record_of_it(keyed: anthropic.Anthropic) -> None:
    stores = keyed.beta.memory_stores
    store = stores.create(name=unique("redact")).id
    made = stores.memories.create(store, path="/ssn.md", content="123-45-6789")
    current = stores.memories.update(made.id, memory_store_id=store, content="removed")
    redacted = stores.memory_versions.redact(made.memory_version_id, memory_store_id=store)
    assert (redacted.content, redacted.content_sha256, redacted.content_size_bytes, redacted.path) == (
        None,
        None,
        None,
        None,
    )
    assert redacted.redacted_at is not None and redacted.redacted_by is not None
    assert redacted.redacted_by.type == "api_actor" and redacted.created_by == redacted.redacted_by
    assert (redacted.operation, redacted.memory_id, redacted.created_at) == ("created", made.id, made.created_at)
    again = stores.memory_versions.redact(made.memory_version_id, memory_store_id=store)
    assert again == redacted  # redacting twice: unchanged
    fetched = stores.memory_versions.retrieve(made.memory_version_id, memory_store_id=store)
    assert fetched == redacted
    listed = {version.id: version for version in stores.memory_versions.list(store, view="full")}
    assert listed[made.memory_version_id] == redacted and listed[current.memory_version_id].content == "removed"
    assert stores.memories.retrieve(made.id, memory_store_id=store).content == "removed"


@pytest.mark.anyio
async def test_concurrent_writers_with_one_precondition_one_wins(server: LiveServer, key: str) -> None:
    """Eight writers race with the same ``content_sha256``: exactly one wins, seven get a 409, and the versions are
    exactly the creation and the winner's write."""
    async with async_sdk(server, key) as client:
        stores = client.beta.memory_stores
        store = (await stores.create(name=unique("race"))).id
        made = await stores.memories.create(store, path="/counter", content="0")
        precondition: BetaManagedAgentsPreconditionParam = {"type": "content_sha256", "content_sha256": sha("0")}
        won: list[str] = []
        lost: list[str] = []

        async def write(index: int) -> None:
            try:
                await stores.memories.update(
                    made.id, memory_store_id=store, content=f"{index}", precondition=precondition
                )
            except anthropic.ConflictError:
                lost.append(f"{index}")
            else:
                won.append(f"{index}")

        async with anyio.create_task_group() as tasks:
            for index in range(1, 9):
                tasks.start_soon(write, index)
        assert len(won) == 1 and len(lost) == 7
        head = await stores.memories.retrieve(made.id, memory_store_id=store)
        assert head.content == won[0]
        versions = [version async for version in stores.memory_versions.list(store, memory_id=made.id, view="full")]
        assert [(version.operation, version.content) for version in versions] == [
            ("modified", won[0]),
            ("created", "0"),
        ]
        assert versions[0].id == head.memory_version_id


@pytest.mark.anyio
async def test_concurrent_unconditional_writers_lose_nothing(server: LiveServer, key: str) -> None:
    """Writers without a precondition all succeed: each write is a version of its own, in commit order, and the
    memory holds the last one."""
    async with async_sdk(server, key) as client:
        stores = client.beta.memory_stores
        store = (await stores.create(name=unique("writers"))).id
        made = await stores.memories.create(store, path="/log", content="start")

        async def write(index: int) -> None:
            await stores.memories.update(made.id, memory_store_id=store, content=f"writer {index}")

        async with anyio.create_task_group() as tasks:
            for index in range(8):
                tasks.start_soon(write, index)
        versions = [version async for version in stores.memory_versions.list(store, memory_id=made.id, view="full")]
        assert len(versions) == 9 and versions[-1].content == "start"
        assert sorted(version.content or "" for version in versions[:-1]) == sorted(f"writer {i}" for i in range(8))
        assert len({version.created_at for version in versions}) == 9  # stamped in commit order, never tied
        head = await stores.memories.retrieve(made.id, memory_store_id=store)
        assert (head.memory_version_id, head.content) == (versions[0].id, versions[0].content)


def test_version_wire_form(client: anthropic.Anthropic) -> None:
    store = client.beta.memory_stores.create(name=unique("wire")).id
    made = client.beta.memory_stores.memories.create(store, path="/w", content="w")
    versions = client.beta.memory_stores.memory_versions
    raw = versions.with_raw_response.redact(made.memory_version_id, memory_store_id=store)
    assert validated(BetaManagedAgentsMemoryVersion, raw).redacted_at is not None
