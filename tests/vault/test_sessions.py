"""``vault_ids`` on sessions through the SDK: attached at creation, validated, returned, never changed after."""

from __future__ import annotations

import anthropic
import pytest
from anthropic.types.beta import BetaManagedAgentsSession

from tests.conformance.helpers import new_agent, new_environment, validated
from tests.vault.helpers import new_vault


def create(client: anthropic.Anthropic, vault_ids: list[str]) -> BetaManagedAgentsSession:
    agent, env = new_agent(client), new_environment(client)
    raw = client.beta.sessions.with_raw_response.create(agent=agent.id, environment_id=env.id, vault_ids=vault_ids)
    return validated(BetaManagedAgentsSession, raw)


def test_vaults_attach_at_creation(client: anthropic.Anthropic) -> None:
    first, second = new_vault(client), new_vault(client)
    session = create(client, [second.id, first.id])
    assert session.vault_ids == [second.id, first.id]
    assert client.beta.sessions.retrieve(session.id).vault_ids == [second.id, first.id]
    assert create(client, []).vault_ids == []
    with pytest.raises(anthropic.BadRequestError):  # create-only, as the hosted API says
        client.beta.sessions.update(session.id, vault_ids=[first.id])
    assert client.beta.sessions.retrieve(session.id).vault_ids == [second.id, first.id]


def test_only_live_vaults_of_the_workspace_attach(client: anthropic.Anthropic, other: anthropic.Anthropic) -> None:
    archived = new_vault(client)
    client.beta.vaults.archive(archived.id)
    with pytest.raises(anthropic.BadRequestError):
        create(client, [archived.id])
    with pytest.raises(anthropic.NotFoundError):
        create(client, ["vlt_011CZkZDLs7fYzm1hXNPeRjv"])
    with pytest.raises(anthropic.BadRequestError):
        create(client, ["not-a-vault"])
    theirs = new_vault(other)
    with pytest.raises(anthropic.NotFoundError):  # another workspace's vault does not exist for this one
        create(client, [theirs.id])
    sessions_before = [s.id for s in client.beta.sessions.list(limit=100)]
    with pytest.raises(anthropic.NotFoundError):
        create(client, [new_vault(client).id, theirs.id])
    assert [s.id for s in client.beta.sessions.list(limit=100)] == sessions_before  # nothing was written
