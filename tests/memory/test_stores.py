"""``client.beta.memory_stores`` through the official SDK, on both engines: the store's life (create, retrieve,
update, list, archive, delete), its response forms and pagination, and workspace scoping of every id."""

from __future__ import annotations

from typing import Any, cast

import anthropic
import pytest
from anthropic.types.beta import BetaManagedAgentsDeletedMemoryStore, BetaManagedAgentsMemoryStore
from anthropic.types.beta.memory_stores import BetaManagedAgentsMemory, BetaManagedAgentsMemoryVersion

from tests.conformance.helpers import unique, validated


def error_of(failure: anthropic.APIStatusError) -> dict[str, Any]:
    return cast(dict[str, Any], failure.body)["error"]


def test_a_store_roundtrips(client: anthropic.Anthropic) -> None:
    raw = client.beta.memory_stores.with_raw_response.create(
        name="User preferences", description="What the user likes", metadata={"owner": "ana"}
    )
    made = validated(BetaManagedAgentsMemoryStore, raw)
    assert made.id.startswith("memstore_") and made.type == "memory_store" and made.archived_at is None
    assert (made.name, made.description, made.metadata) == ("User preferences", "What the user likes", {"owner": "ana"})
    assert made.created_at == made.updated_at
    fetched = validated(BetaManagedAgentsMemoryStore, client.beta.memory_stores.with_raw_response.retrieve(made.id))
    assert fetched == made
    changed = client.beta.memory_stores.update(
        made.id, name="Prefs", description="", metadata={"owner": None, "t": "1"}
    )
    assert (changed.name, changed.description, changed.metadata) == ("Prefs", "", {"t": "1"})
    assert changed.updated_at > made.updated_at and changed.created_at == made.created_at
    assert client.beta.memory_stores.update(made.id).updated_at == changed.updated_at  # nothing sent: unchanged
    bare = client.beta.memory_stores.create(name="bare")
    assert bare.description == "" and bare.metadata == {}
    deleted = validated(
        BetaManagedAgentsDeletedMemoryStore, client.beta.memory_stores.with_raw_response.delete(made.id)
    )
    assert (deleted.id, deleted.type) == (made.id, "memory_store_deleted")
    for call in (client.beta.memory_stores.retrieve, client.beta.memory_stores.delete):
        with pytest.raises(anthropic.NotFoundError):
            call(made.id)


def test_store_names_and_descriptions_are_checked(client: anthropic.Anthropic) -> None:
    for name, description in (("", ""), ("x" * 256, ""), ("a\nb", ""), ("n", "d" * 1025)):
        with pytest.raises(anthropic.BadRequestError):
            client.beta.memory_stores.create(name=name, description=description)
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.beta.memory_stores.create(name="n", metadata={f"k{index}": "v" for index in range(17)})
    assert error_of(refused.value)["details"]["error_code"] == "invalid_metadata"


def test_archive_is_one_way_and_leaves_the_store_readable(client: anthropic.Anthropic) -> None:
    store = client.beta.memory_stores.create(name=unique("archived"))
    memory = client.beta.memory_stores.memories.create(store.id, path="/keep.md", content="kept")
    archived = client.beta.memory_stores.archive(store.id)
    assert archived.archived_at is not None and archived.updated_at == archived.archived_at
    assert client.beta.memory_stores.archive(store.id) == archived  # archiving again: unchanged
    assert store.id not in [listed.id for listed in client.beta.memory_stores.list(limit=100)]
    assert store.id in [listed.id for listed in client.beta.memory_stores.list(limit=100, include_archived=True)]
    refusals = (
        lambda: client.beta.memory_stores.update(store.id, name="again"),
        lambda: client.beta.memory_stores.memories.create(store.id, path="/new.md", content="x"),
        lambda: client.beta.memory_stores.memories.update(memory.id, memory_store_id=store.id, content="y"),
    )
    for refusal in refusals:
        with pytest.raises(anthropic.BadRequestError, match="archived"):
            refusal()
    assert client.beta.memory_stores.memories.retrieve(memory.id, memory_store_id=store.id).content == "kept"
    version = client.beta.memory_stores.memory_versions.redact(memory.memory_version_id, memory_store_id=store.id)
    assert version.redacted_at is not None
    client.beta.memory_stores.memories.delete(memory.id, memory_store_id=store.id)
    client.beta.memory_stores.delete(store.id)


def test_stores_page_to_the_end_newest_first(client: anthropic.Anthropic) -> None:
    made = [client.beta.memory_stores.create(name=f"page-{index}").id for index in range(5)]
    first = client.beta.memory_stores.list(limit=2)
    assert len(first.data) == 2 and first.next_page is not None
    listed = [store.id for store in client.beta.memory_stores.list(limit=2)]  # the SDK's auto-pager
    assert len(listed) == len(set(listed))
    assert [store_id for store_id in listed if store_id in made] == made[::-1]
    since = client.beta.memory_stores.retrieve(made[2]).created_at
    recent = [store.id for store in client.beta.memory_stores.list(created_at_gte=since, limit=100)]
    assert set(made[2:]) <= set(recent) and not set(made[:2]) & set(recent)
    with pytest.raises(anthropic.BadRequestError, match="cursor"):
        client.beta.memory_stores.list(page="page_bogus")


def test_another_workspace_sees_nothing(client: anthropic.Anthropic, other: anthropic.Anthropic) -> None:
    store = client.beta.memory_stores.create(name=unique("private"))
    memory = client.beta.memory_stores.memories.create(store.id, path="/secret.md", content="mine")
    stores = other.beta.memory_stores
    calls = (
        lambda: stores.retrieve(store.id),
        lambda: stores.update(store.id, name="theirs"),
        lambda: stores.archive(store.id),
        lambda: stores.delete(store.id),
        lambda: stores.memories.list(store.id),
        lambda: stores.memories.create(store.id, path="/x.md", content="x"),
        lambda: stores.memories.retrieve(memory.id, memory_store_id=store.id),
        lambda: stores.memories.update(memory.id, memory_store_id=store.id, content="theirs"),
        lambda: stores.memories.delete(memory.id, memory_store_id=store.id),
        lambda: stores.memory_versions.list(store.id),
        lambda: stores.memory_versions.retrieve(memory.memory_version_id, memory_store_id=store.id),
        lambda: stores.memory_versions.redact(memory.memory_version_id, memory_store_id=store.id),
    )
    for call in calls:
        with pytest.raises(anthropic.NotFoundError):
            call()
    assert store.id not in [listed.id for listed in stores.list(limit=100, include_archived=True)]
    assert client.beta.memory_stores.memories.retrieve(memory.id, memory_store_id=store.id).content == "mine"


def test_ids_of_the_wrong_kind_or_store_are_404(client: anthropic.Anthropic) -> None:
    store = client.beta.memory_stores.create(name=unique("ids"))
    elsewhere = client.beta.memory_stores.create(name=unique("elsewhere"))
    memory = client.beta.memory_stores.memories.create(elsewhere.id, path="/a.md", content="a")
    for call in (
        lambda: client.beta.memory_stores.retrieve("vlt_0123"),
        lambda: client.beta.memory_stores.memories.retrieve(memory.id, memory_store_id=store.id),
        lambda: client.beta.memory_stores.memories.retrieve("mem_nothing", memory_store_id=store.id),
        lambda: client.beta.memory_stores.memory_versions.retrieve(memory.memory_version_id, memory_store_id=store.id),
        lambda: client.beta.memory_stores.memory_versions.retrieve("memver_nothing", memory_store_id=store.id),
    ):
        with pytest.raises(anthropic.NotFoundError):
            call()


def test_deleting_a_store_deletes_its_memories_and_versions(client: anthropic.Anthropic) -> None:
    store = client.beta.memory_stores.create(name=unique("doomed"))
    memory = client.beta.memory_stores.memories.create(store.id, path="/a/b.md", content="b")
    client.beta.memory_stores.delete(store.id)
    with pytest.raises(anthropic.NotFoundError):
        client.beta.memory_stores.memories.retrieve(memory.id, memory_store_id=store.id)
    with pytest.raises(anthropic.NotFoundError):
        client.beta.memory_stores.memory_versions.list(store.id)


def test_response_models_validate_strictly(client: anthropic.Anthropic) -> None:
    store = client.beta.memory_stores.create(name=unique("strict"))
    raw = client.beta.memory_stores.memories.with_raw_response.create(store.id, path="/s.md", content="s", view="full")
    memory = validated(BetaManagedAgentsMemory, raw)
    assert memory.content == "s"
    versions = client.beta.memory_stores.memory_versions.with_raw_response.retrieve(
        memory.memory_version_id, memory_store_id=store.id
    )
    assert validated(BetaManagedAgentsMemoryVersion, versions).operation == "created"
