"""kill -9 in the middle: two ``corral serve`` sharing PostgreSQL fire each due deployment exactly once although one
is killed as the ticks come due; a webhook delivery in flight when its server is killed is delivered after the
restart, with the same event id, and the SDK verifies it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tests.conftest import database_url
from tests.deployments.conftest import ENV
from tests.deployments.helpers import FAR, MESSAGE, agent_and_environment, make_due, register_webhook
from tests.deployments.receiver import receiver
from tests.live import LiveServer, live_server
from tests.sdk_server import sdk

COUNT = 12


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    url = anyio.run(database_url, "postgres", tmp_path)
    env = {"CORRAL_WORKERS": "0", **ENV}
    with live_server(url, data_dir=tmp_path / "a", env=env) as first:
        with live_server(url, data_dir=tmp_path / "b", env={**env, "CORRAL_API_KEY": first.api_key}) as second:
            second.api_key = first.api_key  # one deployment, one key: either process answers it
            yield first, second


def test_two_schedulers_fire_each_tick_once_with_one_killed(pair: tuple[LiveServer, LiveServer]) -> None:
    first, second = pair
    with sdk(second) as client, receiver() as hooks:
        register_webhook(second, hooks.url, ["deployment_run.succeeded"])
        agent_id, environment_id = agent_and_environment(client)
        ids = [
            client.beta.deployments.create(
                agent=agent_id, environment_id=environment_id, initial_events=[MESSAGE], name=f"d{i}", schedule=FAR
            ).id
            for i in range(COUNT)
        ]
        make_due(second, *ids)
        first.kill()  # whatever it had claimed lapses after CORRAL_SCHEDULER_LEASE, and the survivor fires it
        fired = {hooks.next().body for _ in range(COUNT)}
        runs = list(client.beta.deployment_runs.list(trigger_type="schedule", limit=1000))
        assert len(fired) == COUNT
        assert sorted(r.deployment_id for r in runs) == sorted(ids)  # each exactly once
        sessions = list(client.beta.sessions.list(limit=100))
        assert sorted(s.id for s in sessions) == sorted(r.session_id or "" for r in runs)


def test_a_delivery_in_flight_at_kill_is_delivered_after_restart(tmp_path: Path) -> None:
    env = {"CORRAL_WORKERS": "0", **ENV, "CORRAL_WEBHOOK_TIMEOUT": "1"}
    with receiver() as hooks, live_server(f"sqlite:///{tmp_path / 'c.db'}", data_dir=tmp_path, env=env) as server:
        with sdk(server) as client:
            endpoint = register_webhook(server, hooks.url, ["deployment.created"])
            agent_id, environment_id = agent_and_environment(client)
            hooks.holding.set()
            made = client.beta.deployments.create(
                agent=agent_id, environment_id=environment_id, initial_events=[MESSAGE], name="crash", schedule=FAR
            )
            assert hooks.held.wait(timeout=60)  # the attempt is in flight
            server.kill()
            hooks.holding.clear()
            hooks.release.set()
            server.start()
            got = hooks.next()
            event = client.beta.webhooks.unwrap(got.body, headers=got.headers, key=endpoint["secret"])
            assert event.data.type == "deployment.created" and event.data.id == made.id
