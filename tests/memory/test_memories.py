"""``client.beta.memory_stores.memories`` through the official SDK, on both engines: create, retrieve, update and
rename, delete, ``view``, listing by ``path_prefix`` and ``depth``, pagination, ``content_sha256`` preconditions
and the path rules."""

from __future__ import annotations

import hashlib
from typing import Any, cast

import anthropic
import pytest
from anthropic.types.beta.memory_stores import (
    BetaManagedAgentsDeletedMemory,
    BetaManagedAgentsMemory,
    BetaManagedAgentsPreconditionParam,
)

from tests.conformance.helpers import unique, validated


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def error_of(failure: anthropic.APIStatusError) -> dict[str, Any]:
    return cast(dict[str, Any], failure.body)["error"]


def new_store(client: anthropic.Anthropic) -> str:
    return client.beta.memory_stores.create(name=unique("memories")).id


def test_a_memory_roundtrips(client: anthropic.Anthropic) -> None:
    store = new_store(client)
    memories = client.beta.memory_stores.memories
    made = memories.create(store, path="/projects/été/notes.md", content="héllo")
    assert made.id.startswith("mem_") and made.memory_version_id.startswith("memver_") and made.type == "memory"
    assert made.content is None  # view=basic is the default of create
    assert (made.path, made.memory_store_id) == ("/projects/été/notes.md", store)
    assert made.content_sha256 == sha("héllo") and made.content_size_bytes == len("héllo".encode())
    raw = memories.with_raw_response.retrieve(made.id, memory_store_id=store)
    fetched = validated(BetaManagedAgentsMemory, raw)
    assert fetched.content == "héllo" and fetched.model_copy(update={"content": None}) == made  # retrieve: full
    assert memories.retrieve(made.id, memory_store_id=store, view="basic").content is None
    changed = memories.update(made.id, memory_store_id=store, content="bye", view="full")
    assert changed.content == "bye" and changed.content_sha256 == sha("bye")
    assert changed.memory_version_id != made.memory_version_id and changed.updated_at > made.updated_at
    moved = memories.update(made.id, memory_store_id=store, path="/archive/notes.md")
    assert (moved.id, moved.path, moved.content_sha256) == (made.id, "/archive/notes.md", sha("bye"))
    same = memories.update(made.id, memory_store_id=store, content="bye")  # nothing changes: no new version
    assert same.memory_version_id == moved.memory_version_id
    empty = memories.create(store, path="/empty", content="")
    assert empty.content_size_bytes == 0 and empty.content_sha256 == sha("")
    deleted = validated(
        BetaManagedAgentsDeletedMemory, memories.with_raw_response.delete(made.id, memory_store_id=store)
    )
    assert (deleted.id, deleted.type) == (made.id, "memory_deleted")
    with pytest.raises(anthropic.NotFoundError):
        memories.retrieve(made.id, memory_store_id=store)
    assert memories.create(store, path="/archive/notes.md", content="again").id != made.id  # the path is free


def test_patch_updates_like_post(client: anthropic.Anthropic) -> None:
    """The docs' tables say PATCH; the SDK sends POST: both are served."""
    store = new_store(client)
    made = client.beta.memory_stores.memories.create(store, path="/p.md", content="p")
    response = client.patch(
        f"/v1/memory_stores/{store}/memories/{made.id}",
        body={"content": "q"},
        cast_to=BetaManagedAgentsMemory,
        options={"headers": {"anthropic-beta": "agent-memory-2026-07-22"}},
    )
    assert response.content_sha256 == sha("q")


def test_preconditions_refuse_a_stale_write(client: anthropic.Anthropic) -> None:
    store = new_store(client)
    memories = client.beta.memory_stores.memories
    made = memories.create(store, path="/count", content="1")
    stale: BetaManagedAgentsPreconditionParam = {"type": "content_sha256", "content_sha256": sha("0")}
    with pytest.raises(anthropic.ConflictError) as refused:
        memories.update(made.id, memory_store_id=store, content="2", precondition=stale)
    assert error_of(refused.value)["type"] == "memory_precondition_failed_error"
    assert memories.retrieve(made.id, memory_store_id=store).content == "1"  # nothing written
    fresh: BetaManagedAgentsPreconditionParam = {"type": "content_sha256", "content_sha256": made.content_sha256}
    assert memories.update(made.id, memory_store_id=store, content="2", precondition=fresh).content_sha256 == sha("2")
    with pytest.raises(anthropic.ConflictError) as refused:
        memories.delete(made.id, memory_store_id=store, expected_content_sha256=sha("1"))
    assert error_of(refused.value)["type"] == "memory_precondition_failed_error"
    memories.delete(made.id, memory_store_id=store, expected_content_sha256=sha("2"))
    for bad in ("ABC", sha("x").upper()):
        wrong: BetaManagedAgentsPreconditionParam = {"type": "content_sha256", "content_sha256": bad}
        with pytest.raises(anthropic.BadRequestError):
            memories.update(made.id, memory_store_id=store, precondition=wrong)


BAD_PATHS = [
    "notes.md",  # relative
    "",
    "/",
    "/a//b",
    "/a/./b",
    "/a/../b",
    "/a/",
    "/nul\x00byte",
    "/line\nbreak",
    "/zero\u200bwidth",
    "/sep\u2028",
    "/cafe\u0301",  # NFD: e + combining acute
    "/" + "/".join(["s"] * 21),
    "/" + "x" * 1024,
]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_bad_paths_are_refused(client: anthropic.Anthropic, path: str) -> None:
    store = new_store(client)
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.beta.memory_stores.memories.create(store, path=path, content="x")
    assert "path" in error_of(refused.value)["message"]
    made = client.beta.memory_stores.memories.create(store, path="/ok.md", content="x")
    with pytest.raises(anthropic.BadRequestError):
        client.beta.memory_stores.memories.update(made.id, memory_store_id=store, path=path)
    assert list(client.beta.memory_stores.memories.list(store)) == [made]


def test_the_longest_and_deepest_paths_are_accepted(client: anthropic.Anthropic) -> None:
    store = new_store(client)
    deep = "/" + "/".join(["s"] * 20)
    long = "/" + "x" * 1023
    for path in (deep, long, "/Case/File.MD", "/café"):
        assert client.beta.memory_stores.memories.create(store, path=path, content="").path == path


def test_colliding_paths_are_409_naming_the_memory_in_the_way(client: anthropic.Anthropic) -> None:
    store = new_store(client)
    memories = client.beta.memory_stores.memories
    taken = memories.create(store, path="/a/b.md", content="b")
    other = memories.create(store, path="/c.md", content="c")
    for attempt in (
        lambda: memories.create(store, path="/a/b.md", content="again"),  # the same path
        lambda: memories.create(store, path="/a", content="a file where a directory is"),
        lambda: memories.create(store, path="/a/b.md/c", content="below a file"),
        lambda: memories.update(other.id, memory_store_id=store, path="/a/b.md"),
    ):
        with pytest.raises(anthropic.ConflictError) as refused:
            attempt()
        error = error_of(refused.value)
        assert error["type"] == "memory_path_conflict_error"
        assert error["details"]["conflicting_memory_id"] == taken.id
    assert memories.create(store, path="/A/b.md", content="paths are case-sensitive").path == "/A/b.md"


def test_content_is_limited_to_100_kb(client: anthropic.Anthropic) -> None:
    store = new_store(client)
    largest = client.beta.memory_stores.memories.create(store, path="/big", content="x" * 102_400)
    assert largest.content_size_bytes == 102_400
    with pytest.raises(anthropic.BadRequestError, match="102400"):
        client.beta.memory_stores.memories.create(store, path="/bigger", content="é" * 51_201)


def test_nul_characters_are_refused_not_a_500(client: anthropic.Anthropic) -> None:
    """PostgreSQL text cannot hold U+0000: a clear 400 on both engines alike."""
    store = new_store(client)
    with pytest.raises(anthropic.BadRequestError, match="NUL"):
        client.beta.memory_stores.memories.create(store, path="/nul", content="a\x00b")
    made = client.beta.memory_stores.memories.create(store, path="/nul", content="ab")
    with pytest.raises(anthropic.BadRequestError, match="NUL"):
        client.beta.memory_stores.memories.update(made.id, memory_store_id=store, content="\x00")
    with pytest.raises(anthropic.BadRequestError, match="NUL"):
        client.beta.memory_stores.create(name="n", description="a\x00b")
    with pytest.raises(anthropic.BadRequestError):
        client.beta.memory_stores.memories.list(store, path_prefix="/\x00/")


TREE = ["/a.md", "/b/c.md", "/b/d/e.md", "/b/d/f.md", "/b/g/h.md", "/bb.md", "/b-x/y.md", "/z.md"]


def listing(
    client: anthropic.Anthropic, store: str, *, path_prefix: str = "/", depth: int = 0, limit: int = 20
) -> list[str]:
    items = client.beta.memory_stores.memories.list(store, path_prefix=path_prefix, depth=depth, limit=limit)
    return [item.path if item.type == "memory" else f"{item.path}*" for item in items]


def test_depth_and_prefix_listing(client: anthropic.Anthropic) -> None:
    store = new_store(client)
    for path in TREE:
        client.beta.memory_stores.memories.create(store, path=path, content=path)
    assert listing(client, store) == sorted(TREE)
    assert listing(client, store, depth=1) == ["/a.md", "/b-x/*", "/b/*", "/bb.md", "/z.md"]
    assert listing(client, store, path_prefix="/b/") == ["/b/c.md", "/b/d/e.md", "/b/d/f.md", "/b/g/h.md"]
    assert listing(client, store, path_prefix="/b/", depth=1) == ["/b/c.md", "/b/d/*", "/b/g/*"]
    assert listing(client, store, path_prefix="/b/", depth=2) == ["/b/c.md", "/b/d/e.md", "/b/d/f.md", "/b/g/h.md"]
    assert listing(client, store, path_prefix="/b/d/", depth=1) == ["/b/d/e.md", "/b/d/f.md"]
    assert listing(client, store, path_prefix="/nothing/") == []
    for every_page in (1, 2, 3):  # prefixes count toward the limit, and a page never repeats or skips one
        assert listing(client, store, depth=1, limit=every_page) == listing(client, store, depth=1)
        assert listing(client, store, limit=every_page) == sorted(TREE)
    first = client.beta.memory_stores.memories.list(store, depth=1, limit=2)
    assert [item.path for item in first.data] == ["/a.md", "/b-x/"] and first.next_page is not None
    full = client.beta.memory_stores.memories.list(store, view="full", limit=100)
    assert len(full.data) == 8 and {item.content for item in full.data if item.type == "memory"} == set(TREE)
    for prefix in ("/b", "b/", "/b/../", "//"):
        with pytest.raises(anthropic.BadRequestError, match="path_prefix"):
            client.beta.memory_stores.memories.list(store, path_prefix=prefix)
    with pytest.raises(anthropic.BadRequestError, match="depth"):
        client.beta.memory_stores.memories.list(store, depth=-1)
    with pytest.raises(anthropic.BadRequestError, match="cursor"):  # a cursor serves only the list that made it
        client.beta.memory_stores.memories.list(store, path_prefix="/b/", page=first.next_page)


def test_view_full_pages_hold_at_most_20(client: anthropic.Anthropic) -> None:
    store = new_store(client)
    for index in range(21):
        client.beta.memory_stores.memories.create(store, path=f"/m{index:02}", content=str(index))
    full = client.beta.memory_stores.memories.list(store, view="full", limit=100)
    assert len(full.data) == 20 and full.next_page is not None
    assert len(client.beta.memory_stores.memories.list(store, limit=100).data) == 21
