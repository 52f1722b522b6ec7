"""``corral agents|environments|sessions …``, ``sessions send`` and ``sessions tail``: a client of a live server,
with tables for people, ``--json`` for scripts and one-line errors."""

from __future__ import annotations

import json

import pytest

from corral import __version__
from tests.cli.conftest import client_env, corral
from tests.live import LiveServer, scrubbed_env


def ok(server: LiveServer, *args: str) -> str:
    done = corral(*args, env=client_env(server))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout


def test_version_is_a_flag_too() -> None:
    assert corral("--version", env=scrubbed_env({})).stdout == f"{__version__}\n"
    assert corral("version", env=scrubbed_env({})).stdout == f"{__version__}\n"


def test_serve_says_what_it_is_doing_as_it_starts(server: LiveServer) -> None:
    lines = server.log_path.read_text().splitlines()
    assert lines[0].startswith(f"corral {__version__}: database ") and lines[0].endswith(", 1 worker pool(s)")
    assert lines[1].startswith("corral: applied ") and lines[1].endswith(" migration(s)")
    assert f"corral: listening on http://127.0.0.1:{server.port}" in lines


@pytest.mark.timeout(480)  # a dozen CLI processes, each importing the SDK: slow on a loaded machine
def test_agents_environments_and_sessions_are_created_listed_and_shown(server: LiveServer) -> None:
    agent_id = ok(server, "agents", "create", "--name", "cli-agent", "--ask").strip()
    agent = json.loads(ok(server, "agents", "show", agent_id, "--json"))
    assert agent["name"] == "cli-agent" and agent["model"]["id"] == "claude-sonnet-4-6"
    assert agent["tools"][0]["default_config"]["permission_policy"] == {"type": "always_ask"}
    assert agent_id in [a["id"] for a in json.loads(ok(server, "agents", "list", "--json"))]
    table = ok(server, "agents", "list").splitlines()
    assert table[0].split() == ["id", "name", "model.id", "version", "created_at"]
    assert any(line.split()[:3] == [agent_id, "cli-agent", "claude-sonnet-4-6"] for line in table[1:])

    environment = json.loads(ok(server, "environments", "create", "--name", "cli-env", "--limited", "--json"))
    assert environment["config"]["networking"]["type"] == "limited"
    assert "name: cli-env" in ok(server, "environments", "show", environment["id"]).splitlines()
    assert environment["id"] in ok(server, "environments", "list")

    session_id = ok(server, "sessions", "create", "--agent", agent_id, "--environment", environment["id"]).strip()
    assert json.loads(ok(server, "sessions", "show", session_id, "--json"))["status"] == "idle"
    listed = json.loads(ok(server, "sessions", "list", "--agent", agent_id, "--json"))
    assert [s["id"] for s in listed] == [session_id]


@pytest.mark.timeout(480)  # a dozen CLI processes, each importing the SDK: slow on a loaded machine
def test_a_message_sent_then_tailed_shows_the_turn(server: LiveServer) -> None:
    agent_id = ok(server, "agents", "create", "--name", "tailed").strip()
    environment_id = ok(server, "environments", "create", "--name", "tailed").strip()
    session_id = ok(server, "sessions", "create", "--agent", agent_id, "--environment", environment_id).strip()
    sent = ok(server, "sessions", "send", session_id, "Say hello.").strip()
    assert sent.startswith("sevt_")
    lines = ok(server, "sessions", "tail", session_id, "--until-idle").splitlines()
    assert lines == [
        "you: Say hello.",
        "> bash echo Hello from $(uname -s)",
        "  | Hello from Linux",
        "agent: The sandbox answered; I am a scripted model, so this is all I say.",
        "- idle (end_turn)",
    ]
    events = [
        json.loads(line) for line in ok(server, "sessions", "tail", session_id, "--until-idle", "--json").splitlines()
    ]
    assert events[0]["id"] == sent and events[-1]["type"] == "session.status_idle"


@pytest.mark.timeout(480)  # a dozen CLI processes, each importing the SDK: slow on a loaded machine
def test_mistakes_are_one_line_and_debug_shows_the_traceback(server: LiveServer) -> None:
    no_key = corral("agents", "list", env=scrubbed_env({"CORRAL_URL": server.base_url}))
    assert no_key.returncode == 1 and no_key.stderr.startswith("corral: CORRAL_API_KEY is not set: ")
    assert len(no_key.stderr.splitlines()) == 1
    missing = corral("agents", "show", "agent_nosuch", env=client_env(server))
    assert missing.returncode == 1 and missing.stderr.startswith("corral: the server answered 404: ")
    assert len(missing.stderr.splitlines()) == 1
    nowhere = corral("sessions", "list", "--url", "http://127.0.0.1:9", env=client_env(server))
    assert nowhere.stderr.startswith("corral: cannot reach the server at http://127.0.0.1:9: ")
    assert len(nowhere.stderr.splitlines()) == 1
    debug = corral("--debug", "agents", "show", "agent_nosuch", env=client_env(server))
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
