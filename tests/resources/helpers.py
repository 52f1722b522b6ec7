"""What the session resources tests share: fresh files, stores and sessions, and strict reads of resources."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
from anthropic.types.beta import BetaManagedAgentsMemoryStore, BetaManagedAgentsSession
from anthropic.types.beta.sessions import (
    BetaManagedAgentsFileResource,
    BetaManagedAgentsGitHubRepositoryResource,
    BetaManagedAgentsSessionResource,
)
from pydantic import TypeAdapter

from tests.conformance.helpers import RawResponse, new_agent, new_environment, unique, validated

RESOURCE: TypeAdapter[BetaManagedAgentsSessionResource] = TypeAdapter(BetaManagedAgentsSessionResource)
TOKEN_PREFIX = "ghp_CANARY_"


def resource_of(raw: RawResponse) -> BetaManagedAgentsSessionResource:
    """A resource response, validated strictly against the SDK's union of resource models."""
    return RESOURCE.validate_python(json.loads(raw.text()))


def id_of(resource: BetaManagedAgentsSessionResource) -> str:
    """A resource's id (the SDK's ``memory_store`` model has no ``id`` field: corral's extra one is kept aside)."""
    if resource.type != "memory_store":
        return resource.id
    return str((resource.model_extra or {})["id"])


def as_repository(resource: BetaManagedAgentsSessionResource) -> BetaManagedAgentsGitHubRepositoryResource:
    assert resource.type == "github_repository", resource.type
    return resource


def as_file(resource: BetaManagedAgentsSessionResource) -> BetaManagedAgentsFileResource:
    assert resource.type == "file", resource.type
    return resource


def add_raw(client: anthropic.Anthropic, session_id: str, body: dict[str, Any]) -> BetaManagedAgentsSessionResource:
    """``POST …/resources`` with a body the SDK's ``add`` does not type (a repository), validated strictly."""
    response = client.post(f"/v1/sessions/{session_id}/resources", body=body, cast_to=httpx2.Response)
    return RESOURCE.validate_python(response.json())


def upload(client: anthropic.Anthropic, name: str = "notes.txt") -> str:
    return client.beta.files.upload(file=(name, b"some notes\n", "text/plain")).id


def new_store(client: anthropic.Anthropic, name: str | None = None, **fields: Any) -> BetaManagedAgentsMemoryStore:
    return client.beta.memory_stores.create(name=name or unique("store"), **fields)


def created(client: anthropic.Anthropic, resources: list[Any]) -> BetaManagedAgentsSession:
    """A session created with ``resources``, its response validated strictly."""
    raw = client.beta.sessions.with_raw_response.create(
        agent=new_agent(client).id, environment_id=new_environment(client).id, resources=resources
    )
    return validated(BetaManagedAgentsSession, raw)


def repo(url: str = "http://127.0.0.1:9/acme/widgets.git", **fields: Any) -> dict[str, Any]:
    return {"type": "github_repository", "url": url, **fields}


def session_count(client: anthropic.Anthropic) -> int:
    return len(list(client.beta.sessions.list(limit=100, include_archived=True)))
