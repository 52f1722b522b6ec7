"""Shared parts of the MCP tests that go through the official SDK: agents with MCP toolsets, a turn drained from the
stream, a client that keeps every response body it received (to prove no token is ever in one), and the MCP test
worker process (``tests.mcp.worker``) beside an API-only ``corral serve``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anthropic
import httpx2

from tests.live import LiveServer


class Worker:
    """A ``tests.mcp.worker`` process on the live server's database; ``tokens`` stand in for the vaults."""

    def __init__(self, server: LiveServer, tokens: Mapping[str, str], log: Path):
        self.log = log
        env = {**server.server_env(), "MCP_TEST_TOKENS": json.dumps(dict(tokens))}
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.mcp.worker"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 180  # imports are slow on a loaded machine
        while "ready" not in self.text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the MCP test worker did not start:\n{self.text()[-3000:]}")
            time.sleep(0.05)  # noqa: TID251 - a synchronous helper polling another process

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed or closed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def worker(server: LiveServer, tokens: Mapping[str, str], log: Path) -> Generator[Worker]:
    running = Worker(server, tokens, log)
    try:
        yield running
    finally:
        running.stop()


class RecordingClient:
    """An SDK client whose every JSON response body is kept in ``bodies`` (stream events are kept by ``drain``)."""

    def __init__(self, server: LiveServer):
        self.bodies: list[str] = []
        self.http = httpx2.Client(event_hooks={"response": [self._record]}, trust_env=False, timeout=60)
        self.sdk = anthropic.Anthropic(
            base_url=server.base_url, api_key=server.api_key, max_retries=0, http_client=self.http
        )

    def _record(self, response: httpx2.Response) -> None:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
            self.bodies.append(response.text)

    def close(self) -> None:
        self.sdk.close()
        self.http.close()


@contextmanager
def recording(server: LiveServer) -> Generator[RecordingClient]:
    client = RecordingClient(server)
    try:
        yield client
    finally:
        client.close()


def toolset(server: str, policy: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "mcp_toolset", "mcp_server_name": server}
    if policy is not None:
        entry["default_config"] = {"permission_policy": {"type": policy}}
    return entry


def mcp_agent(client: anthropic.Anthropic, name: str, servers: Mapping[str, str], *toolsets: dict[str, Any]) -> Any:
    mcp_servers: Any = [{"type": "url", "name": server, "url": url} for server, url in servers.items()]
    tools: Any = list(toolsets)
    return client.beta.agents.create(name=name, model="claude-sonnet-4-6", mcp_servers=mcp_servers, tools=tools)


def message(text: str) -> list[dict[str, Any]]:
    return [{"type": "user.message", "content": [{"type": "text", "text": text}]}]


def drain(client: RecordingClient, session_id: str, events: Sequence[dict[str, Any]]) -> list[Any]:
    """Open the stream, send ``events``, collect the stream's events up to the next idle (whatever its reason)."""
    seen: list[Any] = []
    sdk = client.sdk
    with sdk.beta.sessions.events.stream(session_id) as stream:  # subscribed once this returns
        payload: Any = list(events)
        sdk.beta.sessions.events.send(session_id, events=payload)
        for event in stream:
            seen.append(event)
            client.bodies.append(event.model_dump_json())
            if event.type == "session.status_idle":
                break
    return seen


def of_type(events: Sequence[Any], kind: str) -> list[Any]:
    return [event for event in events if event.type == kind]


def until(predicate: Callable[[], bool], wait: float = 60.0) -> None:
    """Wait until ``predicate()`` holds (state in another process or thread), failing after ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"still not true after {wait}s")
        time.sleep(0.02)  # noqa: TID251 - a synchronous test polling another process
