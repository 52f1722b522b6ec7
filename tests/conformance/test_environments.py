"""``client.beta.environments`` through the official SDK, on both engines."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from anthropic.types.beta import (
    BetaEnvironment,
    BetaEnvironmentArchivedError,
    BetaEnvironmentDeleteResponse,
    BetaEnvironmentNotFoundError,
    BetaInvalidConfigTypeChangeError,
)

from tests.conformance.helpers import new_agent, new_environment, new_session, unique, validated

EMPTY_PACKAGES: dict[str, object] = {
    "type": "packages",
    "apt": [],
    "cargo": [],
    "gem": [],
    "go": [],
    "npm": [],
    "pip": [],
}


def config_of(client: anthropic.Anthropic, environment_id: str) -> dict[str, Any]:
    raw = client.beta.environments.with_raw_response.retrieve(environment_id)
    return validated(BetaEnvironment, raw).model_dump(mode="json")["config"]


def test_create_default_config_is_fully_resolved(client: anthropic.Anthropic) -> None:
    name = unique("env")
    env = validated(BetaEnvironment, client.beta.environments.with_raw_response.create(name=name))
    assert env.id.startswith("env_") and env.type == "environment" and env.name == name
    assert env.description is None and env.metadata == {} and env.scope == "organization"
    assert env.archived_at is None and env.created_at == env.updated_at
    dumped = env.model_dump(mode="json")["config"]
    assert dumped == {"type": "cloud", "networking": {"type": "unrestricted"}, "packages": EMPTY_PACKAGES}


def test_create_limited_with_packages_and_the_corral_extension(client: anthropic.Anthropic) -> None:
    config: Any = {
        "type": "cloud",
        "networking": {"type": "limited", "allowed_hosts": ["api.example.com"], "allow_package_managers": True},
        "packages": {"pip": ["pandas==2.2.2"]},
        "corral": {"warm_pool_size": 2, "provisioning": "speculative"},
    }
    raw = client.beta.environments.with_raw_response.create(name=unique("env"), config=config, description="d")
    env = validated(BetaEnvironment, raw)
    resolved = env.model_dump(mode="json")["config"]
    assert resolved["networking"] == {
        "type": "limited",
        "allowed_hosts": ["api.example.com"],
        "allow_mcp_servers": False,
        "allow_package_managers": True,
    }
    assert resolved["packages"] == {**EMPTY_PACKAGES, "pip": ["pandas==2.2.2"]}
    assert resolved["corral"] == {"warm_pool_size": 2, "provisioning": "speculative"}
    self_hosted = client.beta.environments.create(name=unique("env"), config={"type": "self_hosted"})
    assert config_of(client, self_hosted.id) == {"type": "self_hosted"}


def test_update_keeps_what_is_omitted(client: anthropic.Anthropic) -> None:
    env = new_environment(
        client,
        config={"type": "cloud", "networking": {"type": "limited", "allowed_hosts": ["a.example.com"]}},
        metadata={"a": "1", "b": "2"},
        description="first",
    )
    raw = client.beta.environments.with_raw_response.update(
        env.id,
        config={"type": "cloud", "networking": {"type": "limited", "allow_mcp_servers": True}},
        metadata={"a": None, "b": "", "c": "3"},
    )
    updated = validated(BetaEnvironment, raw)
    assert updated.description == "first" and updated.metadata == {"c": "3"}
    networking = updated.model_dump(mode="json")["config"]["networking"]
    assert networking["allowed_hosts"] == ["a.example.com"] and networking["allow_mcp_servers"] is True
    cleared = client.beta.environments.update(env.id, description=None, name=unique("renamed"))
    assert cleared.description is None and cleared.name != env.name


def test_update_refusals(client: anthropic.Anthropic) -> None:
    env = new_environment(client)
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.beta.environments.update(env.id, config={"type": "self_hosted"})
    assert isinstance(caught.value, BetaInvalidConfigTypeChangeError)
    taken = new_environment(client)
    with pytest.raises(anthropic.ConflictError) as conflict:
        client.beta.environments.update(env.id, name=taken.name)
    assert conflict.value.response.headers["x-should-retry"] == "false"
    client.beta.environments.archive(env.id)
    with pytest.raises(anthropic.BadRequestError) as archived:
        client.beta.environments.update(env.id, description="x")
    assert isinstance(archived.value, BetaEnvironmentArchivedError)


def test_duplicate_names_are_a_409_and_write_nothing(client: anthropic.Anthropic) -> None:
    env = new_environment(client)
    before = [e.id for e in client.beta.environments.list(include_archived=True, limit=100)]
    with pytest.raises(anthropic.ConflictError) as caught:
        client.beta.environments.create(name=env.name)
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert [e.id for e in client.beta.environments.list(include_archived=True, limit=100)] == before


def test_archive_and_list(client: anthropic.Anthropic) -> None:
    made = [new_environment(client).id for _ in range(3)]
    archived = validated(BetaEnvironment, client.beta.environments.with_raw_response.archive(made[0]))
    assert archived.archived_at is not None
    assert client.beta.environments.archive(made[0]).archived_at == archived.archived_at
    live = [e.id for e in client.beta.environments.list(limit=1)]
    assert made[1] in live and made[2] in live and made[0] not in live
    everything = [e.id for e in client.beta.environments.list(include_archived=True, limit=2)]
    assert [i for i in everything if i in made] == list(reversed(made))
    page = client.beta.environments.list(limit=1)
    assert len(page.data) == 1 and page.next_page is not None
    BetaEnvironment.model_validate(page.data[0].model_dump())


def test_delete(client: anthropic.Anthropic) -> None:
    env = new_environment(client)
    raw = client.beta.environments.with_raw_response.delete(env.id)
    deleted = validated(BetaEnvironmentDeleteResponse, raw)
    assert (deleted.id, deleted.type) == (env.id, "environment_deleted")
    with pytest.raises(anthropic.NotFoundError):
        client.beta.environments.retrieve(env.id)
    with pytest.raises(anthropic.NotFoundError):
        client.beta.environments.delete(env.id)


def test_an_environment_in_use_cannot_be_deleted(client: anthropic.Anthropic) -> None:
    env = new_environment(client)
    session = new_session(client, agent=new_agent(client).id, environment_id=env.id)
    with pytest.raises(anthropic.ConflictError):
        client.beta.environments.delete(env.id)
    client.beta.sessions.delete(session.id)
    assert client.beta.environments.delete(env.id).type == "environment_deleted"


@pytest.mark.parametrize(
    "fields",
    [
        {"name": ""},
        {"name": "n" * 257},
        {"config": {"type": "kubernetes"}},
        {"config": {"type": "self_hosted", "networking": {"type": "unrestricted"}}},
        {"config": {"type": "cloud", "networking": {"type": "limited"}, "packages": {"pip": ["x"]}}},
        {"config": {"type": "cloud", "networking": {"type": "limited", "allowed_hosts": ["https://x.com/a"]}}},
        {"config": {"type": "cloud", "corral": {"warm_pool_size": 33}}},
        {"config": {"type": "cloud", "corral": {"provisioning": "eventually"}}},
        {"scope": "account"},
        {"metadata": {"k" * 65: "v"}},
    ],
)
def test_invalid_environments_are_refused(client: anthropic.Anthropic, fields: dict[str, Any]) -> None:
    fields = dict(fields)
    name = fields.pop("name", unique("bad"))
    before = [e.id for e in client.beta.environments.list(include_archived=True, limit=100)]
    with pytest.raises(anthropic.BadRequestError):
        client.beta.environments.create(name=name, **fields)
    assert [e.id for e in client.beta.environments.list(include_archived=True, limit=100)] == before


def test_unknown_environments_are_404(client: anthropic.Anthropic) -> None:
    for environment_id in ("env_doesnotexist0000000000000", "agent_wrongkind", "x"):
        with pytest.raises(BetaEnvironmentNotFoundError):
            client.beta.environments.retrieve(environment_id)
        with pytest.raises(anthropic.NotFoundError):
            client.beta.environments.update(environment_id, name="x")
        with pytest.raises(anthropic.NotFoundError):
            client.beta.environments.archive(environment_id)
        with pytest.raises(anthropic.NotFoundError):
            client.beta.environments.delete(environment_id)
