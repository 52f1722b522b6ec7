"""Bad session resources, each refused with a clear error in the documented shape and nothing written: no
session is created, an existing session's resources stay as they were."""

from __future__ import annotations

import secrets
from typing import Any

import anthropic
import httpx2
import pytest

from tests.conformance.helpers import error_body, new_agent, new_environment, new_session, off_spec
from tests.resources.helpers import as_file, as_repository, created, id_of, new_store, repo, session_count, upload


def refused_create(client: anthropic.Anthropic, resources: list[Any], error: type[anthropic.APIStatusError]) -> str:
    """Creating a session with ``resources`` fails with ``error`` and creates nothing; the error's message."""
    agent, environment = new_agent(client), new_environment(client)
    before = session_count(client)
    with pytest.raises(error) as refused:
        client.beta.sessions.create(agent=agent.id, environment_id=environment.id, resources=off_spec(resources))
    assert session_count(client) == before
    assert error_body(refused.value)["type"] == "error"
    return str(error_body(refused.value)["error"]["message"])


def test_files_must_be_live_files_of_the_workspace(client: anthropic.Anthropic, other: anthropic.Anthropic) -> None:
    gone = upload(client)
    client.beta.files.delete(gone)
    for file_id in ("file_missing", gone, upload(other), "not-an-id"):
        refused_create(client, [{"type": "file", "file_id": file_id}], anthropic.NotFoundError)


def test_memory_stores_must_exist_be_active_at_most_eight_and_once(
    client: anthropic.Anthropic, other: anthropic.Anthropic
) -> None:
    for store_id in ("memstore_missing", new_store(other).id):
        refused_create(client, [{"type": "memory_store", "memory_store_id": store_id}], anthropic.NotFoundError)
    archived = new_store(client)
    client.beta.memory_stores.archive(archived.id)
    message = refused_create(
        client, [{"type": "memory_store", "memory_store_id": archived.id}], anthropic.BadRequestError
    )
    assert "archived" in message
    nine = [{"type": "memory_store", "memory_store_id": new_store(client).id} for _ in range(9)]
    assert "at most 8" in refused_create(client, nine, anthropic.BadRequestError)
    assert len(created(client, nine[:8]).resources) == 8
    twice = [nine[0], {**nine[0], "access": "read_only"}]
    assert "twice" in refused_create(client, twice, anthropic.BadRequestError)
    long = [{**nine[0], "instructions": "x" * 4097}]
    refused_create(client, long, anthropic.BadRequestError)
    assert list(client.beta.sessions.list(memory_store_id=str(nine[8]["memory_store_id"]))) == []


BAD_URLS = (
    "ftp://example.com/owner/repo",
    "https://example.com",
    "https://example.com/owner",
    "https://user:secret@example.com/owner/repo",
    "https://example.com/owner/repo?ref=main",
    "https://example.com/owner/repo#main",
    "https://example.com/owner/..",
    "owner/repo",
    "",
)


def test_repositories_need_a_repository_url_and_a_valid_checkout(client: anthropic.Anthropic) -> None:
    for url in BAD_URLS:
        assert "url" in refused_create(client, [repo(url)], anthropic.BadRequestError)
    checkouts: list[Any] = [
        {"type": "commit", "sha": "xyz1234"},
        {"type": "commit", "sha": "abc12"},
        {"type": "commit", "sha": "a" * 41},
        {"type": "tag", "name": "v1"},
        {"type": "branch"},
        {"type": "branch", "name": ""},
        "main",
    ]
    for checkout in checkouts:
        refused_create(client, [repo(checkout=checkout)], anthropic.BadRequestError)
    plain = created(client, [repo("http://127.0.0.1:9/owner/repo"), repo("https://example.com/x/y.git/")])
    assert [r.mount_path for r in plain.resources] == ["/workspace/repo", "/workspace/y"]


def test_mount_paths_are_absolute_plain_and_unique(client: anthropic.Anthropic) -> None:
    file_id = upload(client)
    for path in ("relative/path", "/a/../b", "/a/b/..", "/a\0b", "/", "//", "/workspace", "/workspace/", ""):
        message = refused_create(
            client, [{"type": "file", "file_id": file_id, "mount_path": path}], anthropic.BadRequestError
        )
        assert "mount_path" in message
    clash = [{"type": "file", "file_id": file_id, "mount_path": "/data/x"}, repo(mount_path="/data//x/")]
    assert "/data/x" in refused_create(client, clash, anthropic.BadRequestError)
    store = new_store(client, "Shared")
    with_store = [{"type": "memory_store", "memory_store_id": store.id}]
    shadow = [*with_store, {"type": "file", "file_id": file_id, "mount_path": "/mnt/memory/shared"}]
    assert "/mnt/memory/shared" in refused_create(client, shadow, anthropic.BadRequestError)
    default_twice = [{"type": "file", "file_id": file_id}, {"type": "file", "file_id": file_id}]
    assert file_id in refused_create(client, default_twice, anthropic.BadRequestError)


def test_unknown_fields_and_kinds_are_named(client: anthropic.Anthropic) -> None:
    file_id = upload(client)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"type": "file", "file_id": file_id, "read_only": True}, "read_only"),
        ({**repo(), "branch": "main"}, "branch"),
        ({**repo(), "checkout": {"type": "branch", "name": "main", "depth": 1}}, "depth"),
        ({"type": "memory_store", "memory_store_id": new_store(client).id, "mount_path": "/m"}, "mount_path"),
        ({"type": "bucket", "url": "s3://x"}, "bucket"),
        ({"file_id": file_id}, "type"),
    ]
    for resource, named in cases:
        assert named in refused_create(client, [resource], anthropic.BadRequestError)


def _resources(client: anthropic.Anthropic, session_id: str) -> list[str]:
    return [id_of(r) for r in client.beta.sessions.resources.list(session_id)]


def test_add_refusals_write_nothing(client: anthropic.Anthropic) -> None:
    file_id, store = upload(client), new_store(client)
    session = created(client, [{"type": "file", "file_id": file_id}])
    before = _resources(client, session.id)
    path = f"/v1/sessions/{session.id}/resources"
    bodies: list[tuple[dict[str, Any], type[anthropic.APIStatusError], str]] = [
        ({"type": "memory_store", "memory_store_id": store.id}, anthropic.BadRequestError, "creation only"),
        ({"type": "file", "file_id": file_id}, anthropic.BadRequestError, f"/mnt/session/uploads/{file_id}"),
        ({"type": "file", "file_id": "file_missing"}, anthropic.NotFoundError, "file_missing"),
        ({"type": "file", "file_id": file_id, "mount_path": "/workspace"}, anthropic.BadRequestError, "mount_path"),
        ({"type": "file", "file_id": file_id, "extra": 1}, anthropic.BadRequestError, "extra"),
        ({**repo(), "mount_path": f"/mnt/session/uploads/{file_id}"}, anthropic.BadRequestError, "mount_path"),
    ]
    for body, error, named in bodies:
        with pytest.raises(error) as refused:
            client.post(path, body=body, cast_to=httpx2.Response)
        assert named in str(error_body(refused.value)["error"]["message"])
    assert _resources(client, session.id) == before
    assert list(client.beta.sessions.list(memory_store_id=store.id)) == []


def test_update_and_delete_refusals_write_nothing(client: anthropic.Anthropic) -> None:
    store = new_store(client)
    session = created(
        client, [{"type": "file", "file_id": upload(client)}, {"type": "memory_store", "memory_store_id": store.id}]
    )
    file, memory = session.resources
    for resource_id in (id_of(file), id_of(memory)):
        with pytest.raises(anthropic.BadRequestError, match="github_repository"):
            client.beta.sessions.resources.update(resource_id, session_id=session.id, authorization_token="t")
    with pytest.raises(anthropic.BadRequestError, match="creation only"):
        client.beta.sessions.resources.delete(id_of(memory), session_id=session.id)
    repository = as_repository(created(client, [repo()]).resources[0])
    bad_updates: list[dict[str, Any]] = [{}, {"authorization_token": ""}, {"authorization_token": "t", "url": "x"}]
    for body in bad_updates:
        with pytest.raises(anthropic.BadRequestError):
            client.post(f"/v1/sessions/{session.id}/resources/{repository.id}", body=body, cast_to=httpx2.Response)
    with pytest.raises(anthropic.NotFoundError):  # a resource of another session
        client.beta.sessions.resources.update(repository.id, session_id=session.id, authorization_token="t")
    again = client.beta.sessions.retrieve(session.id).resources
    assert [r.model_dump() for r in again] == [r.model_dump() for r in session.resources]


def test_a_terminated_or_deleted_session_takes_no_changes(client: anthropic.Anthropic) -> None:
    file_id = upload(client)
    session = created(client, [{"type": "file", "file_id": file_id}, repo()])
    file, repository = as_file(session.resources[0]), as_repository(session.resources[1])
    client.beta.sessions.archive(session.id)
    changes = (
        lambda: client.beta.sessions.resources.add(session.id, type="file", file_id=file_id, mount_path="/new"),
        lambda: client.beta.sessions.resources.update(repository.id, session_id=session.id, authorization_token="t"),
        lambda: client.beta.sessions.resources.delete(file.id, session_id=session.id),
    )
    for change in changes:
        with pytest.raises(anthropic.BadRequestError) as refused:
            change()
        assert "terminated" in str(error_body(refused.value)["error"]["message"])
    after = client.beta.sessions.retrieve(session.id).resources
    assert [r.model_dump() for r in after] == [r.model_dump() for r in session.resources]
    gone = new_session(client)
    client.beta.sessions.delete(gone.id)
    with pytest.raises(anthropic.NotFoundError):
        client.beta.sessions.resources.add(gone.id, type="file", file_id=file_id)
    with pytest.raises(anthropic.NotFoundError):
        client.beta.sessions.resources.list(gone.id)


def test_self_hosted_environments_take_memory_stores_but_refuse_files_and_repositories(
    client: anthropic.Anthropic,
) -> None:
    agent = new_agent(client)
    hosted = client.beta.environments.create(name=f"self-hosted-{secrets.token_hex(4)}", config={"type": "self_hosted"})
    file_id, store = upload(client), new_store(client)
    before = session_count(client)
    for resources in ([{"type": "file", "file_id": file_id}], [repo()], [{"type": "file", "file_id": file_id}, repo()]):
        with pytest.raises(anthropic.BadRequestError) as refused:
            client.beta.sessions.create(agent=agent.id, environment_id=hosted.id, resources=off_spec(resources))
        assert "not supported on self_hosted environments" in refused.value.message
    assert session_count(client) == before
    session = client.beta.sessions.create(
        agent=agent.id, environment_id=hosted.id, resources=[{"type": "memory_store", "memory_store_id": store.id}]
    )
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.beta.sessions.resources.add(session.id, type="file", file_id=file_id)
    assert "file resources are not supported on self_hosted environments" in refused.value.message
    assert len(_resources(client, session.id)) == 1
