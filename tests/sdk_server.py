"""The official SDK against one live ``corral serve`` per engine and test package: the fixtures the API packages
(files, memory stores, skills …) share instead of each keeping a copy.

A package's conftest defines its ``server`` fixture with ``package_server`` (its own label and environment) and
imports ``client`` and ``other`` from here (listing them in ``__all__``, so pytest finds them and linters see them
used). ``client`` speaks with the admin key of the default workspace, ``other`` with a key of a second workspace.

The two runs are the two deployments the README describes: SQLite with blobs under the data directory, and
PostgreSQL with blobs in an S3-protocol store (a fresh bucket on ``script/test``'s moto server,
``CORRAL_TEST_S3_URL``). ``stored_blobs(server)`` lists what either holds.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import anthropic
import anyio
import httpx2
import pytest

from corral.testing import ScriptedModelServer, reply, text
from tests.blobs.conftest import TEST_KEY, fresh_bucket, s3_client
from tests.conftest import database_url
from tests.live import LiveServer, live_server


def sdk(server: LiveServer, api_key: str | None = None) -> anthropic.Anthropic:
    http = httpx2.Client(trust_env=False)
    return anthropic.Anthropic(
        base_url=server.base_url, api_key=api_key or server.api_key, max_retries=0, http_client=http
    )


def async_sdk(server: LiveServer, api_key: str | None = None) -> anthropic.AsyncAnthropic:
    http = httpx2.AsyncClient(trust_env=False)
    return anthropic.AsyncAnthropic(
        base_url=server.base_url, api_key=api_key or server.api_key, max_retries=0, http_client=http
    )


@contextmanager
def package_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, label: str, env: Mapping[str, str]
) -> Generator[LiveServer]:
    """An API-only ``corral serve`` on the engine the fixture is parametrised with (``request.param``)."""
    engine: str = request.param
    tmp = tmp_path_factory.mktemp(f"{label}-{engine}")
    db_url = anyio.run(database_url, engine, tmp)
    blobs = anyio.run(s3_blob_env) if engine == "postgres" else {}
    with live_server(db_url, data_dir=tmp / "data", env={"CORRAL_WORKERS": "0", **blobs, **env}) as running:
        yield running


def s3_url() -> str:
    url = os.environ.get("CORRAL_TEST_S3_URL")
    if not url:
        raise RuntimeError("CORRAL_TEST_S3_URL is not set: run the tests through script/test")
    return url


async def s3_blob_env() -> dict[str, str]:
    """A server's settings for blobs in a fresh bucket of the test S3-protocol server."""
    endpoint = s3_url()
    async with s3_client(endpoint) as client:
        bucket = await fresh_bucket(client)
    return {
        "CORRAL_BLOB_URL": f"s3://{bucket}/corral",
        "CORRAL_S3_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": TEST_KEY,
        "AWS_SECRET_ACCESS_KEY": TEST_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def stored_blobs(server: LiveServer) -> list[str]:
    """Every blob the server's store holds (keys in its bucket, or files under its data directory)."""
    url = server.env.get("CORRAL_BLOB_URL", "")
    if url.startswith("s3://"):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        return anyio.run(_bucket_keys, bucket, prefix)
    root = server.data_dir / "blobs"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.parent.name != "locks")


async def _bucket_keys(bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    async with s3_client(s3_url()) as client:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        async for page in pages:
            keys += [item.get("Key", "") for item in page.get("Contents", [])]
    return sorted(keys)


@pytest.fixture(scope="package")
def client(server: LiveServer) -> Iterator[anthropic.Anthropic]:
    with sdk(server) as made:
        yield made


@pytest.fixture(scope="package")
def other(server: LiveServer) -> Iterator[anthropic.Anthropic]:
    """A client of a second workspace (a key made by ``LiveServer.create_key``)."""
    with sdk(server, server.create_key("other")) as made:
        yield made


@contextmanager
def agent_server(
    tmp_path_factory: pytest.TempPathFactory,
    label: str,
    script: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
) -> Generator[tuple[LiveServer, ScriptedModelServer]]:
    """A ``corral serve`` with workers and local sandboxes on SQLite, its model a scripted model server (``script``;
    by default one that answers every turn with a line of text, for tests that set their script as they go), and
    ``env`` added to its settings."""
    tmp = tmp_path_factory.mktemp(label)
    with ScriptedModelServer(dict(script or {"replies": [reply(text("Nothing scripted."))]})) as model:
        env = {"ANTHROPIC_BASE_URL": model.url, "CORRAL_LEASE_TTL": "5", **(env or {})}
        with live_server(f"sqlite:///{tmp / 'corral.db'}", data_dir=tmp / "data", env=env) as running:
            yield running, model


def toolset_session(client: anthropic.Anthropic, prefix: str) -> str:
    """A new session of a new agent with the built-in tools, in a new environment (both named ``prefix-<hex>``)."""
    name = f"{prefix}-{secrets.token_hex(3)}"
    tools: list[Any] = [{"type": "agent_toolset_20260401"}]
    agent = client.beta.agents.create(name=name, model="claude-sonnet-4-6", tools=tools)
    environment = client.beta.environments.create(name=name)
    return client.beta.sessions.create(agent=agent.id, environment_id=environment.id).id


def send_text(client: anthropic.Anthropic, session_id: str, prompt: str) -> str:
    """Send ``prompt`` as a user message; the id of the event recorded."""
    content: list[Any] = [{"type": "text", "text": prompt}]
    sent = client.beta.sessions.events.send(session_id, events=[{"type": "user.message", "content": content}])
    assert sent.data
    return sent.data[0].id


def run_turn(client: anthropic.Anthropic, session_id: str, prompt: str = "Go on.") -> list[dict[str, Any]]:
    """Send ``prompt`` and return the events of the turn it starts, up to its ``session.status_idle`` (the stream is
    subscribed once its response headers arrived, api/sse.py, so nothing is missed)."""
    seen: list[dict[str, Any]] = []
    with client.beta.sessions.events.stream(session_id) as stream:
        client.beta.sessions.events.send(
            session_id, events=[{"type": "user.message", "content": [{"type": "text", "text": prompt}]}]
        )
        for event in stream:
            seen.append(event.model_dump())
            if event.type == "session.status_idle":
                break
    return seen
