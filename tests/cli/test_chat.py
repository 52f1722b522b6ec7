"""``corral chat``: a conversation fed on stdin, a confirmation answered inline, and the server restarted while
the chat waits for that answer: the stream comes back (resumed with ``Last-Event-ID``) and the turn is seen to its
end, nothing lost or shown twice. This module has a server of its own (it restarts it)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.cli.conftest import cli_server, client_env, corral
from tests.live import LiveServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with cli_server(tmp_path_factory.mktemp("chat")) as running:
        yield running


def lines_until(process: subprocess.Popen[str], last: str) -> list[str]:
    """The lines the chat prints, up to the first that starts with ``last``."""
    assert process.stdout is not None
    seen: list[str] = []
    while not (seen and seen[-1].startswith(last)):
        line = process.stdout.readline()
        assert line, f"the chat ended early after {seen}"
        seen.append(line.rstrip("\n"))
    return seen


@pytest.mark.timeout(480)  # a server restart and CLI processes: minutes on a loaded machine
def test_chat_asks_inline_and_survives_a_server_restart(server: LiveServer) -> None:
    env = client_env(server)
    agent_id = corral("agents", "create", "--name", "chatty", "--ask", env=env).stdout.strip()
    command = [sys.executable, "-m", "corral", "chat", agent_id]
    with subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as chat:
        assert chat.stdin is not None
        chat.stdin.write("Clean up the build directory.\n")
        chat.stdin.flush()
        removal = "bash rm -rf build && test ! -e build && echo build removed | tr a-z A-Z"
        first = lines_until(chat, "? allow ")
        assert first[0].startswith("session sesn_") and first[1:] == [
            f"> {removal}",
            "- idle (requires_action)",
            f"? allow {removal}? [y/N]",
        ]

        server.kill()  # the chat's stream drops while it waits for the person
        server.start()
        chat.stdin.write("y\n")
        chat.stdin.flush()
        rest = lines_until(chat, "- idle (end_turn)")
        assert rest == [
            "reconnecting...",
            "  allowed",
            "  | BUILD REMOVED",
            "agent: I removed the build directory.",
            "- idle (end_turn)",
        ]
        chat.stdin.close()
        assert chat.wait(60) == 0
        assert chat.stdout is not None and chat.stdout.read() == ""
