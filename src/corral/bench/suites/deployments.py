"""The ``deployments`` suite: the scheduler and the webhook deliverer under load (issue 13's targets).

* ``scheduler``: ``count`` deployments (1,000 in a full run) on one fresh PostgreSQL database, all due at the same
  moment; two schedulers, each with its own services and connection pool as two processes have, race to fire
  them through the real fire path (a session created from the deployment and its run, in one transaction).
  Reports the time from the moment they are due to the last run recorded (the target: within 10 s).
* ``webhooks``: ``count`` deliveries recorded in one transaction for one endpoint on loopback (a threaded HTTP
  receiver answering 204); reports the latency of each from its commit to the receiver's answer (target: p50
  < 100 ms), measured from the start of the write that records them.

Invariants (checks): every deployment fired exactly once and each run names a distinct session; every delivery
arrived, each event once. Everything lives below ``ctx.scratch`` or in the suite's own databases.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import anyio.to_thread

from corral import outbox
from corral.api import deployment_ops
from corral.api.deployment_fire import scheduled_fire
from corral.api.schemas.deployments import DeploymentCreate
from corral.bench.measure import add_latency, add_value
from corral.bench.results import Arm, Check, SuiteResult
from corral.bench.suite import Context, Suite
from corral.catalog.params import AgentCreate, EnvironmentCreate
from corral.compose.services import Services, open_services
from corral.config import Settings
from corral.db import Flow, Row, all_rows, exec_
from corral.deployments.scheduler import Scheduler
from corral.ids import rfc3339
from corral.vault import new_entry
from corral.webhooks import endpoints
from corral.webhooks.deliverer import Deliverer

WORKSPACE = "wrkspc_default"
FAR = {"type": "cron", "expression": "0 0 1 1 *", "timezone": "UTC"}
MESSAGE = {"type": "user.message", "content": [{"type": "text", "text": "report"}]}


_KEY = new_entry()  # one vault master key for both "processes" on the one database


def _settings(ctx: Context, url: str, name: str) -> Settings:
    return Settings(database_url=url, data_dir=ctx.scratch / name, workers=0, vault_key=_KEY)


@asynccontextmanager
async def _services(ctx: Context, url: str, name: str) -> AsyncGenerator[Services]:
    async with open_services(_settings(ctx, url, name)) as services:
        yield services


def _make_due(at: float) -> Flow[None]:
    yield exec_("UPDATE deployments SET next_fire_at = $1", at)
    return None


def _runs() -> Flow[list[Row]]:
    rows: list[Row] = yield all_rows("SELECT deployment_id, doc, created_at FROM deployment_runs")
    return rows


async def _create(services: Services, count: int) -> list[str]:
    agent = await services.catalog.create_agent(
        WORKSPACE, AgentCreate.model_validate({"name": "a", "model": "claude-sonnet-4-6"})
    )
    env = await services.catalog.create_environment(WORKSPACE, EnvironmentCreate.model_validate({"name": "e"}))
    body = {"agent": agent.id, "environment_id": env.id, "initial_events": [MESSAGE], "name": "d", "schedule": FAR}
    made = [
        await deployment_ops.create(services, WORKSPACE, DeploymentCreate.model_validate(body)) for _ in range(count)
    ]
    return [record.id for record in made]


async def _scheduler(ctx: Context, result: SuiteResult, arm: Arm) -> None:
    if ctx.postgres.unavailable:
        arm.not_measured(ctx.postgres.unavailable)
        return
    count = ctx.pick("deployments.count", 200, 1000)
    url = await ctx.postgres.fresh_url()
    async with _services(ctx, url, "a") as first, _services(ctx, url, "b") as second:
        ids = await _create(first, count)
        due = time.time()
        await first.db.write(_make_due, due)
        racers = [Scheduler(s.db, scheduled_fire(s), lease=30.0) for s in (first, second)]
        async with anyio.create_task_group() as group:
            for racer in racers:
                group.start_soon(racer.tick)
        done = time.time()
        rows = await first.db.read(_runs)
    fired = sorted(str(row["deployment_id"]) for row in rows)
    sessions = {str(row["doc"]) for row in rows}
    ok = fired == sorted(ids) and len(sessions) == count
    result.checks.append(Check("every due deployment fired exactly once", ok, f"{len(fired)} runs for {count}"))
    add_value(arm, "all_started", f"{count} due deployments, two schedulers: due to last run", done - due, "s")


class _Listening(ThreadingHTTPServer):
    # the stdlib's backlog of 5 drops the connections of 64 concurrent deliveries, whose SYNs are then retried
    # after 1 s, 3 s…: the receiver, not the outbox, would be what is measured
    request_queue_size = 1024


class _Receiver:
    def __init__(self, expected: int) -> None:
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()
        self.all_arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    receiver.arrived.setdefault(self.headers.get("webhook-id", ""), time.time())
                    if len(receiver.arrived) >= expected:
                        receiver.all_arrived.set()
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = _Listening(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


async def _webhooks(ctx: Context, result: SuiteResult, arm: Arm) -> None:
    count = ctx.pick("webhooks.count", 200, 1000)
    receiver = _Receiver(count)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    began = 0.0
    try:
        url = f"sqlite:///{ctx.scratch / 'webhooks.db'}"
        async with _services(ctx, url, "w") as services:
            stamp = rfc3339(datetime.now(UTC))
            endpoint = endpoints.Endpoint("whep_bench", WORKSPACE, receiver.url, None, 0, None, stamp)
            await services.db.write(endpoints.create, endpoint, "whsec_" + "A" * 44)
            deliverer = Deliverer(services.db, timeout=10, retry_base=1.0, allow_private=True)
            async with anyio.create_task_group() as group:
                await group.start(deliverer.run)
                began = await _record(services, count)
                await anyio.to_thread.run_sync(receiver.all_arrived.wait, 120.0)
                group.cancel_scope.cancel()
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    result.checks.append(Check("every delivery arrived, each once", len(receiver.arrived) == count, ""))
    add_latency(
        arm,
        "delivery",
        "from the write recording the change to the receiver's answer",
        [at - began for at in receiver.arrived.values()],
    )


async def _record(services: Services, count: int) -> float:
    """Record ``count`` changes' deliveries in one transaction; the moment the write began."""
    stamp = rfc3339(datetime.now(UTC))

    def changes() -> Flow[None]:
        for index in range(count):
            yield from outbox.record(WORKSPACE, "deployment.updated", f"depl_{index}", stamp)
        return None

    began = time.time()
    await services.db.write(changes)
    return began


async def run(ctx: Context, result: SuiteResult) -> None:
    scheduler = Arm("scheduler", "due deployments fired by two schedulers racing on one PostgreSQL")
    webhooks = Arm("webhooks", "webhook deliveries from the outbox to a loopback receiver (SQLite)")
    result.arms += [scheduler, webhooks]
    await _scheduler(ctx, result, scheduler)
    await _webhooks(ctx, result, webhooks)


SUITE = Suite("deployments", "PostgreSQL (scheduler), SQLite and a loopback receiver (webhooks)", run)
