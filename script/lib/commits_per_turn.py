"""Commits per turn on PostgreSQL: ``script/commits-per-turn [TURNS]`` (docs/kubernetes.md, "Sizing").

Starts one ``corral serve`` (API and one worker pool, the local sandbox provider, no egress) on the PostgreSQL of
``CORRAL_TEST_POSTGRES_URL`` with a scripted model, and counts the transactions its database commits
(``pg_stat_database.xact_commit``, read-only ones included) around TURNS sequential turns of two kinds: a turn
that answers with text, and a turn with one ``bash`` call. The commits of the idle server over a quiet window of
the same length (the workers' polling and lease renewals) are measured first and subtracted.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import anthropic
import anyio
import asyncpg
from tests.conftest import fresh_postgres_url
from tests.live import LiveServer
from tests.sdk_server import run_turn

from corral.testing import ScriptedModelServer, reply, text, tool_use


async def commits(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        value = await connection.fetchval("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
    finally:
        await connection.close()
    return int(value)


def settled(url: str) -> int:
    # the statistics collector publishes with a delay (PG 15: at transaction end, flushed at most each second)
    time.sleep(1.5)  # noqa: TID251 - a measurement waiting out the statistics' flush, no event loop here
    return anyio.run(commits, url)


def measure(
    client: anthropic.Anthropic, url: str, agent_id: str, environment: str, turns: int, idle_rate: float
) -> float:
    sessions = [client.beta.sessions.create(agent=agent_id, environment_id=environment).id for _ in range(turns)]
    before = settled(url)
    start = time.monotonic()
    for session in sessions:
        run_turn(client, session, "go")
    elapsed = time.monotonic() - start
    after = settled(url)
    return (after - before - 2 - idle_rate * (elapsed + 1.5)) / turns  # 2: our own two reads


def main() -> None:
    turns = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    url = anyio.run(fresh_postgres_url)
    script = {"replies": [reply(tool_use("bash", {"command": "echo hi > f"})), reply(text("done"))]}
    with tempfile.TemporaryDirectory() as tmp, ScriptedModelServer(script) as model:
        env = {"ANTHROPIC_BASE_URL": model.url, "CORRAL_EGRESS": "0"}
        server = LiveServer(url, Path(tmp), env, start_timeout=600.0)  # a loaded machine starts slowly
        server.start()
        try:
            with anthropic.Anthropic(base_url=server.base_url, api_key=server.api_key, max_retries=0) as client:
                agent_tools = client.beta.agents.create(
                    name="tools", model="claude-sonnet-4-6", tools=[{"type": "agent_toolset_20260401"}]
                )
                agent_text = client.beta.agents.create(name="text", model="claude-sonnet-4-6")
                environment = client.beta.environments.create(name="measure").id
                run_turn(client, client.beta.sessions.create(agent=agent_tools.id, environment_id=environment).id)
                quiet = 10.0
                first = settled(url)
                time.sleep(quiet)  # noqa: TID251 - the idle window measured
                idle_rate = (settled(url) - first - 1) / (quiet + 1.5)
                with_tool = measure(client, url, agent_tools.id, environment, turns, idle_rate)
                model.set_script({"replies": [reply(text("done"))]})
                text_only = measure(client, url, agent_text.id, environment, turns, idle_rate)
        finally:
            server.stop()
    print(f"idle: {idle_rate:.1f} commits/s (one serve, one worker pool)")
    print(f"text-only turn: {text_only:.1f} commits per turn ({turns} turns)")
    print(f"turn with one bash call: {with_tool:.1f} commits per turn ({turns} turns)")
    print(f"PostgreSQL {os.environ.get('CORRAL_TEST_POSTGRES_URL', '')}")


if __name__ == "__main__":
    main()
