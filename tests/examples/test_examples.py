"""Each program of ``examples/`` run as a person runs it, as a subprocess against a live ``corral serve`` whose
model is the scripted model server loaded with ``examples/scripted_model.json`` (one server for the module).

The assertions are on what the programs print: the scripted model makes the agent's side fixed, so the lines
prove the round trip (a tool ran in a sandbox, a custom tool's result reached the model, a confirmation let the
call run, the ``openai:`` provider answered, separate workers on PostgreSQL drove the session).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from corral.testing import ScriptedModelServer
from tests.conftest import database_url
from tests.live import LiveServer, free_port, live_server, scrubbed_env

EXAMPLES = Path(__file__).parent.parent.parent / "examples"


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(json.loads((EXAMPLES / "scripted_model.json").read_text())) as running:
        yield running


@pytest.fixture(scope="module")
def server(model: ScriptedModelServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("examples")
    env = {"ANTHROPIC_BASE_URL": model.url, "OPENAI_BASE_URL": model.url + "/v1"}
    with live_server(f"sqlite:///{tmp / 'corral.db'}", data_dir=tmp / "data", env=env) as running:
        yield running


def run(command: list[str], env: dict[str, str]) -> list[str]:
    """The lines a program printed; it must succeed (its process group is killed if it hangs)."""
    with subprocess.Popen(
        command,
        env=scrubbed_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            output, _ = process.communicate(timeout=240)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, output
    return output.splitlines()


def example(server: LiveServer, name: str, *args: str, **env: str) -> list[str]:
    client_env = {"CORRAL_URL": server.base_url, "CORRAL_API_KEY": server.api_key, **env}
    return run([sys.executable, str(EXAMPLES / name), *args], client_env)


def test_a_coding_agent_writes_and_runs_a_program(server: LiveServer) -> None:
    lines = example(server, "coding_agent.py")
    assert lines[0].startswith("$ echo 'print([n for n in range(2, 30)") and lines[0].endswith("python3 primes.py")
    assert lines[1:] == [
        "[2, 3, 5, 7, 11, 13, 17, 19, 23, 29]",
        "primes.py prints the primes below 30: 2, 3, 5, 7, 11, 13, 17, 19, 23 and 29.",
    ]


def test_a_custom_tool_runs_in_the_client_and_its_result_reaches_the_model(server: LiveServer) -> None:
    assert example(server, "custom_tool.py") == [
        "get_weather({'city': 'Paris'})",
        "It is sunny and 21 degrees in Paris.",
    ]


def test_an_approved_tool_call_runs(server: LiveServer) -> None:
    command = "rm -rf build && test ! -e build && echo build removed | tr a-z A-Z"
    assert example(server, "tool_confirmation.py", "--yes") == [
        f"allow: {{'command': '{command}'}}",
        "BUILD REMOVED",
        "I removed the build directory.",
    ]


def test_a_local_model_answers_through_the_openai_protocol(server: LiveServer, model: ScriptedModelServer) -> None:
    before = len(model.requests)
    lines = example(server, "local_model.py", LOCAL_MODEL="openai:qwen2.5-coder")
    assert lines[:2] == ["Hello from Linux", "The sandbox answered; I am a scripted model, so this is all I say."]
    assert lines[2].endswith(" output tokens from openai:qwen2.5-coder)") and len(lines) == 3
    asked = model.requests[before:]
    assert {r.path for r in asked} == {"/v1/chat/completions"} and {r.body["model"] for r in asked} == {"qwen2.5-coder"}


@pytest.mark.timeout(360)  # three corral processes import at once: minutes on a loaded machine
def test_separate_workers_on_postgresql_drive_a_session(model: ScriptedModelServer, tmp_path: Path) -> None:
    env = {
        "CORRAL_DATABASE_URL": anyio.run(database_url, "postgres", tmp_path),
        "CORRAL_API_KEY": "sk-corral-example-" + os.urandom(8).hex(),
        "CORRAL_PORT": str(free_port()),
        "CORRAL_DATA_DIR": str(tmp_path / "data"),
        "ANTHROPIC_BASE_URL": model.url,
    }
    lines = run(["bash", str(EXAMPLES / "postgres_workers.sh")], env)
    assert "primes.py prints the primes below 30: 2, 3, 5, 7, 11, 13, 17, 19, 23 and 29." in lines
