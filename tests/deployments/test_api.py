"""Deployments through the official SDK against a live server (both engines): the resource, ``run``, the schedule
firing, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anthropic
import pytest

from corral._types import json_object
from tests.deployments.helpers import FAR, MESSAGE, agent_and_environment, corral_api, make_due, webhook
from tests.deployments.receiver import receiver
from tests.live import LiveServer, live_server


def test_create_shows_the_schedule_and_pause_keeps_it(client: anthropic.Anthropic) -> None:
    agent_id, environment_id = agent_and_environment(client)
    made = client.beta.deployments.create(
        agent=agent_id,
        environment_id=environment_id,
        initial_events=[MESSAGE],
        name="weekday report",
        schedule={"type": "cron", "expression": "30 9 * * MON-FRI", "timezone": "Europe/Paris"},
    )
    assert made.id.startswith("depl_") and made.status == "active" and made.paused_reason is None
    assert made.agent.id == agent_id and made.agent.version == 1
    assert made.schedule is not None and made.schedule.last_run_at is None
    upcoming = made.schedule.upcoming_runs_at or []
    assert len(upcoming) == 5 and all(moment.weekday() < 5 for moment in upcoming)
    assert all((moment.hour, moment.minute) in ((8, 30), (7, 30)) for moment in upcoming)  # 09:30 Paris in UTC
    paused = client.beta.deployments.pause(made.id)
    assert paused.status == "paused" and paused.paused_reason is not None and paused.paused_reason.type == "manual"
    assert paused.schedule is not None and len(paused.schedule.upcoming_runs_at or []) == 5
    resumed = client.beta.deployments.unpause(made.id)
    assert resumed.status == "active" and resumed.paused_reason is None
    renamed = client.beta.deployments.update(made.id, name="renamed", schedule=None)
    assert renamed.name == "renamed" and renamed.schedule is None
    assert made.id in [d.id for d in client.beta.deployments.list(agent_id=agent_id)]
    archived = client.beta.deployments.archive(made.id)
    assert archived.archived_at is not None
    with pytest.raises(anthropic.APIStatusError):
        client.beta.deployments.update(made.id, name="again")


def test_run_starts_a_session_from_the_deployment(client: anthropic.Anthropic) -> None:
    agent_id, environment_id = agent_and_environment(client)
    made = client.beta.deployments.create(
        agent=agent_id, environment_id=environment_id, initial_events=[MESSAGE], name="manual", schedule=FAR
    )
    client.beta.deployments.pause(made.id)
    run = client.beta.deployments.run(made.id)  # works while paused
    assert run.id.startswith("drun_") and run.deployment_id == made.id and run.trigger_context.type == "manual"
    assert run.error is None and run.session_id is not None
    session = client.beta.sessions.retrieve(run.session_id)
    assert session.deployment_id == made.id and session.environment_id == environment_id
    assert session.agent.id == agent_id and session.agent.version == 1
    sent = [e for e in client.beta.sessions.events.list(run.session_id) if e.type == "user.message"]
    assert [e.model_dump()["content"][0]["text"] for e in sent] == ["Write the daily report."]
    assert client.beta.deployment_runs.retrieve(run.id).session_id == run.session_id
    listed = client.beta.deployment_runs.list(deployment_id=made.id)
    assert [r.id for r in listed] == [run.id]
    schedule = client.beta.deployments.retrieve(made.id).schedule
    assert schedule is not None and schedule.last_run_at is None  # manual runs leave last_run_at alone


def test_a_due_deployment_fires_once_and_its_signed_webhook_verifies(
    server: LiveServer, client: anthropic.Anthropic
) -> None:
    agent_id, environment_id = agent_and_environment(client)
    with receiver() as hooks, webhook(server, hooks.url, ["deployment_run.succeeded"]) as endpoint:
        made = client.beta.deployments.create(
            agent=agent_id, environment_id=environment_id, initial_events=[MESSAGE], name="scheduled", schedule=FAR
        )
        make_due(server, made.id)
        got = hooks.next()
    event = client.beta.webhooks.unwrap(got.body, headers=got.headers, key=endpoint["secret"])
    assert event.data.type == "deployment_run.succeeded" and got.headers["webhook-id"] == event.id
    run = client.beta.deployment_runs.retrieve(event.data.id)
    assert run.deployment_id == made.id and run.trigger_context.type == "schedule" and run.session_id is not None
    runs = client.beta.deployment_runs.list(deployment_id=made.id, trigger_type="schedule")
    assert [r.id for r in runs] == [run.id]
    after = client.beta.deployments.retrieve(made.id)
    assert after.schedule is not None and after.schedule.last_run_at is not None
    assert client.beta.sessions.retrieve(run.session_id).deployment_id == made.id
    with pytest.raises(Exception, match="signature|Signature"):
        client.beta.webhooks.unwrap(json.dumps({"forged": True}), headers=got.headers, key=endpoint["secret"])


def test_a_fire_the_catalog_refuses_records_the_error_and_pauses(
    server: LiveServer, client: anthropic.Anthropic
) -> None:
    agent_id, environment_id = agent_and_environment(client)
    made = client.beta.deployments.create(
        agent=agent_id, environment_id=environment_id, initial_events=[MESSAGE], name="doomed", schedule=FAR
    )
    client.beta.environments.archive(environment_id)
    with receiver() as hooks, webhook(server, hooks.url, ["deployment.paused"]) as endpoint:
        make_due(server, made.id)
        got = hooks.next()
        event = client.beta.webhooks.unwrap(got.body, headers=got.headers, key=endpoint["secret"])
    assert event.data.type == "deployment.paused" and event.data.id == made.id
    paused = client.beta.deployments.retrieve(made.id)
    assert paused.status == "paused" and paused.paused_reason is not None and paused.paused_reason.type == "error"
    runs = list(client.beta.deployment_runs.list(deployment_id=made.id, has_error=True))
    assert len(runs) == 1 and runs[0].session_id is None and runs[0].error is not None
    assert runs[0].error.type == "environment_archived_error"
    assert paused.schedule is not None and len(paused.schedule.upcoming_runs_at or []) == 5


def test_an_archived_agent_archives_its_scheduled_deployment(server: LiveServer, client: anthropic.Anthropic) -> None:
    agent_id, environment_id = agent_and_environment(client)
    made = client.beta.deployments.create(
        agent=agent_id, environment_id=environment_id, initial_events=[MESSAGE], name="orphan", schedule=FAR
    )
    client.beta.agents.archive(agent_id)
    with receiver() as hooks, webhook(server, hooks.url, ["deployment.archived"]):
        make_due(server, made.id)
        assert json.loads(hooks.next().body)["data"]["id"] == made.id
    archived = client.beta.deployments.retrieve(made.id)
    assert archived.archived_at is not None and archived.schedule is not None
    assert archived.schedule.upcoming_runs_at == []
    [run] = client.beta.deployment_runs.list(deployment_id=made.id)
    assert run.error is not None and run.error.type == "agent_archived_error"


def test_webhook_urls_to_private_addresses_are_refused_by_default(tmp_path: Path) -> None:
    env = {"CORRAL_WORKERS": "0"}
    with (
        live_server(f"sqlite:///{tmp_path / 'p.db'}", data_dir=tmp_path, env=env) as strict,
        corral_api(strict) as http,
    ):
        for url in ("https://127.0.0.1/hook", "https://10.0.0.7/hook", "http://93.184.216.34/hook"):
            refused = http.post("/v1/corral/webhooks", json={"url": url})
            assert refused.status_code == 400, refused.text
            error = refused.json()["error"]
            assert error["type"] == "invalid_request_error" and "url:" in error["message"]
        unknown = http.post("/v1/corral/webhooks", json={"url": "https://93.184.216.34/", "event_types": ["x.y"]})
        assert unknown.status_code == 400 and "x.y" in unknown.json()["error"]["message"]
        assert http.get("/v1/corral/webhooks").json()["data"] == []


@pytest.mark.parametrize(
    ("expression", "timezone", "says"),
    [
        ("0 9 * *", "UTC", "5-field"),
        ("0 0 L * *", "UTC", "not supported"),
        ("61 * * * *", "UTC", "not a valid cron"),
        ("@daily", "UTC", "5-field"),
        ("0 9 * * *", "Mars/Olympus_Mons", "IANA time zone"),
    ],
)
def test_bad_schedules_are_refused(client: anthropic.Anthropic, expression: str, timezone: str, says: str) -> None:
    agent_id, environment_id = agent_and_environment(client)
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.beta.deployments.create(
            agent=agent_id,
            environment_id=environment_id,
            initial_events=[MESSAGE],
            name="bad",
            schedule={"type": "cron", "expression": expression, "timezone": timezone},
        )
    assert says in refused.value.message
    body = json_object(refused.value.body) or {}
    assert (json_object(body.get("error")) or {}).get("type") == "invalid_request_error"


def test_the_cli_manages_webhook_endpoints(server: LiveServer) -> None:
    def corral(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "corral", "webhooks", *args],
            env=server.server_env(),
            capture_output=True,
            check=True,
            timeout=60,
        )
        return done.stdout.decode()

    made = json.loads(corral("create", "http://127.0.0.1:9/hook", "--event", "deployment.created"))
    assert made["secret"].startswith("whsec_") and made["event_types"] == ["deployment.created"]
    with corral_api(server) as http:
        listed = http.get(f"/v1/corral/webhooks/{made['id']}").json()
        assert listed["url"] == "http://127.0.0.1:9/hook" and "secret" not in listed
        corral("delete", made["id"])  # (`list` prints what the route lists: the same flow)
        assert http.get(f"/v1/corral/webhooks/{made['id']}").status_code == 404
