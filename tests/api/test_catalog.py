"""The catalog on both engines, without HTTP: versions, concurrency, keys, environments in use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import pytest

from corral.catalog import AgentFilter, Catalog, CatalogLimits
from corral.catalog.params import AgentCreate, AgentUpdate, EnvironmentCreate, EnvironmentUpdate
from corral.db import Database, Flow, all_rows
from corral.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from corral.session import NewSession, SessionStore

pytestmark = pytest.mark.anyio

WS, OTHER = "wrkspc_default", "wrkspc_other"


@pytest.fixture
async def catalog(database: Database) -> Catalog:
    made = Catalog(database, limits=CatalogLimits(max_tools=4), admin_key="admin-secret")
    await made.ensure_default_workspace()
    return made


async def test_versions_are_dense_and_immutable(catalog: Catalog) -> None:
    agent = await catalog.create_agent(WS, AgentCreate(name="a", model="claude-m", system="one"))
    for text in ("two", "three"):
        await catalog.update_agent(WS, agent.id, AgentUpdate(system=text))
    same = await catalog.update_agent(WS, agent.id, AgentUpdate(system="three", metadata={}))
    assert same.version == 3
    page = await catalog.list_agent_versions(WS, agent.id, limit=10, page=None)
    assert [(v.version, v.doc["system"]) for v in page.items] == [(3, "three"), (2, "two"), (1, "one")]
    assert (await catalog.get_agent(WS, agent.id, 1)).doc["system"] == "one"


async def test_concurrent_updates_with_the_same_version_let_exactly_one_win(catalog: Catalog) -> None:
    agent = await catalog.create_agent(WS, AgentCreate(name="a", model="claude-m"))
    outcomes: list[str] = []

    async def update(index: int) -> None:
        try:
            await catalog.update_agent(WS, agent.id, AgentUpdate(version=1, system=f"writer {index}"))
            outcomes.append("won")
        except Conflict as exc:
            assert exc.code is ErrorCode.AGENT_VERSION_CONFLICT
            outcomes.append("lost")

    async with anyio.create_task_group() as group:
        for index in range(8):
            group.start_soon(update, index)
    assert sorted(outcomes) == ["lost"] * 7 + ["won"]
    assert (await catalog.get_agent(WS, agent.id)).version == 2


async def test_objects_of_another_workspace_do_not_exist(catalog: Catalog) -> None:
    agent = await catalog.create_agent(WS, AgentCreate(name="a", model="claude-m"))
    env = await catalog.create_environment(WS, EnvironmentCreate(name="e"))
    for call in (
        catalog.get_agent(OTHER, agent.id),
        catalog.update_agent(OTHER, agent.id, AgentUpdate(name="b")),
        catalog.archive_agent(OTHER, agent.id),
        catalog.list_agent_versions(OTHER, agent.id, limit=5, page=None),
        catalog.get_environment(OTHER, env.id),
        catalog.update_environment(OTHER, env.id, EnvironmentUpdate(name="b")),
        catalog.archive_environment(OTHER, env.id),
        catalog.delete_environment(OTHER, env.id),
    ):
        with pytest.raises(NotFound):
            await call
    assert (await catalog.create_environment(OTHER, EnvironmentCreate(name="e"))).name == "e"


async def test_keys_are_stored_only_as_hashes(catalog: Catalog, database: Database) -> None:
    secret, workspace_id = await catalog.create_key("team-a")
    assert secret.startswith("sk-corral-") and workspace_id.startswith("wrkspc_")
    assert (await catalog.create_key("team-a"))[1] == workspace_id
    principal = await catalog.authenticate(secret)
    assert principal is not None and principal.workspace_id == workspace_id and not principal.admin

    def dump() -> Flow[list[dict[str, Any]]]:
        rows: list[Mapping[str, Any]] = yield all_rows("SELECT * FROM api_keys")  # both engines' rows map columns
        return [dict(row) for row in rows]

    stored = await database.read(dump)
    assert stored and all(secret not in str(value) for row in stored for value in row.values())
    assert await catalog.authenticate("sk-corral-guess") is None
    admin = await catalog.authenticate("admin-secret")
    assert admin is not None and admin.admin and admin.workspace_id == WS


async def test_an_environment_in_use_is_not_deleted(catalog: Catalog, database: Database) -> None:
    env = await catalog.create_environment(WS, EnvironmentCreate(name="busy"))
    store = SessionStore(database)
    try:
        record, _ = await store.create_session(NewSession(WS, "agent_x", 1, env.id, {}))
        with pytest.raises(Conflict):
            await catalog.delete_environment(WS, env.id)
        await store.delete_session(record.id, WS)
    finally:
        await store.aclose()
    await catalog.delete_environment(WS, env.id)
    with pytest.raises(NotFound):
        await catalog.get_environment(WS, env.id)


async def test_refusals_write_nothing(catalog: Catalog) -> None:
    custom = [
        {"type": "custom", "name": f"t{i}", "description": "", "input_schema": {"type": "object"}} for i in range(5)
    ]
    tooled = AgentCreate.model_validate({"name": "a", "model": "claude-m", "tools": custom})
    with pytest.raises(InvalidRequest):
        await catalog.create_agent(WS, tooled)  # the limit here is 4
    agent = await catalog.create_agent(WS, AgentCreate(name="a", model="claude-m"))
    with pytest.raises(InvalidRequest):
        await catalog.update_agent(WS, agent.id, AgentUpdate.model_validate({"tools": custom}))
    with pytest.raises(InvalidRequest) as refused:
        await catalog.update_agent(WS, agent.id, AgentUpdate(metadata={f"k{i}": "v" for i in range(17)}))
    assert refused.value.code is ErrorCode.INVALID_METADATA
    assert (await catalog.get_agent(WS, agent.id)).version == 1
    page = await catalog.list_agents(AgentFilter(WS), limit=10, page=None)
    assert [item.id for item in page.items] == [agent.id]
