"""What the deployment and webhook tests share: an agent and environment, a webhook endpoint, and "time passes" for
one deployment (its next fire moved into the past in the database, then the schedulers' doorbell rung)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

import anthropic
import anyio
import httpx
from anthropic.types.beta import BetaManagedAgentsDeploymentInitialEventParams, BetaManagedAgentsScheduleParams

from corral.db.postgres import driver
from tests.live import LiveServer

MESSAGE: BetaManagedAgentsDeploymentInitialEventParams = {
    "type": "user.message",
    "content": [{"type": "text", "text": "Write the daily report."}],
}
FAR: BetaManagedAgentsScheduleParams = {
    "type": "cron",
    "expression": "0 0 1 1 *",
    "timezone": "UTC",
}  # next January: never due by itself in a test


def agent_and_environment(client: anthropic.Anthropic) -> tuple[str, str]:
    agent = client.beta.agents.create(name="reporter", model="claude-sonnet-4-6")
    environment = client.beta.environments.create(name=f"env-{time.monotonic_ns()}")
    return agent.id, environment.id


def corral_api(server: LiveServer) -> httpx.Client:
    """corral's own extension routes (``/v1/corral/…``), which the SDK does not know."""
    return httpx.Client(base_url=server.base_url, headers={"x-api-key": server.api_key}, trust_env=False)


def register_webhook(server: LiveServer, url: str, event_types: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url}
    if event_types is not None:
        body["event_types"] = event_types
    with corral_api(server) as http:
        response = http.post("/v1/corral/webhooks", json=body)
    assert response.status_code == 200, response.text
    made: dict[str, Any] = response.json()
    return made


@contextmanager
def webhook(server: LiveServer, url: str, event_types: list[str] | None = None) -> Generator[dict[str, Any]]:
    """An endpoint for the length of a test (deleted after, so later tests' events do not chase a gone receiver)."""
    made = register_webhook(server, url, event_types)
    try:
        yield made
    finally:
        with corral_api(server) as http:
            assert http.delete(f"/v1/corral/webhooks/{made['id']}").status_code == 200


def make_due(server: LiveServer, *deployment_ids: str) -> None:
    """Move each deployment's next fire one second into the past, as if its time had come."""
    anyio.run(_make_due, server.db_url, list(deployment_ids))


async def _make_due(db_url: str, deployment_ids: list[str]) -> None:
    due = time.time() - 1
    if db_url.startswith("sqlite:///"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:  # a foreign commit rings the doorbells
            conn.executemany("UPDATE deployments SET next_fire_at = ? WHERE id = ?", [(due, i) for i in deployment_ids])
        return
    conn = await driver.connect(db_url)
    try:
        await conn.executemany(
            "UPDATE deployments SET next_fire_at = $1 WHERE id = $2", [(due, i) for i in deployment_ids]
        )
        await conn.execute("SELECT pg_notify('deployments', 'test')")
    finally:
        await conn.close()
