"""The ``bash`` tool with a real shell in a real sandbox: persistence, restart, timeouts, exit codes, output."""

from __future__ import annotations

import pytest

from corral.sandbox import Sandbox
from tests.sandbox.conftest import Runner, text_of

pytestmark = pytest.mark.anyio


async def test_working_directory_and_variables_survive_between_calls(run: Runner) -> None:
    await run.ok("bash", command="mkdir -p /workspace/src && cd /workspace/src && export GREETING=hello")
    assert await run.ok("bash", command='pwd; echo "$GREETING"') == "/workspace/src\nhello"


async def test_restart_gives_a_fresh_shell(run: Runner) -> None:
    await run.ok("bash", command="cd /tmp && export GONE=1")
    assert await run.ok("bash", restart=True) == "bash session restarted"
    assert await run.ok("bash", command='pwd; echo "[${GONE:-}]"') == "/workspace\n[]"


async def test_restart_with_a_command_runs_it_in_the_fresh_shell(run: Runner) -> None:
    await run.ok("bash", command="cd /tmp")
    assert await run.ok("bash", restart=True, command="pwd") == "/workspace"


async def test_non_zero_exit_is_an_error_with_the_output(run: Runner) -> None:
    text = await run.fails("bash", command="echo partial; echo oops >&2; exit_code() { return 3; }; exit_code")
    assert text == "partial\noops\n[exit code 3]"


async def test_exit_ends_the_shell_and_the_next_call_gets_a_new_one(run: Runner) -> None:
    text = await run.fails("bash", command="cd /tmp; exit 4")
    assert "the shell exited with code 4" in text
    assert await run.ok("bash", command="pwd") == "/workspace"


async def test_a_timeout_stops_the_command_and_restarts_the_shell(run: Runner) -> None:
    await run.ok("bash", command="cd /tmp")
    text = await run.fails("bash", command="echo started; sleep 30", timeout_ms=300)
    assert text.startswith("started\n")
    assert "bash: command timed out after 300 ms; the shell was restarted" in text
    assert await run.ok("bash", command="pwd") == "/workspace"


async def test_stdin_is_empty_so_readers_do_not_hang(run: Runner) -> None:
    assert await run.ok("bash", command="cat; read -r line || echo eof") == "eof"


async def test_a_syntax_error_is_reported_and_the_shell_survives(run: Runner) -> None:
    text = await run.fails("bash", command='echo "unbalanced')
    assert "unexpected EOF" in text
    assert await run.ok("bash", command="echo fine") == "fine"


async def test_output_is_capped_at_100_kib_keeping_the_tail(run: Runner) -> None:
    text = await run.ok("bash", command="seq 1 100000; echo last-line")
    assert text.startswith("[output truncated: showing the last 100 KiB of ")
    assert text.endswith("99999\n100000\nlast-line")
    assert len(text.encode()) < 101 * 1024


async def test_empty_output_reads_no_output(run: Runner) -> None:
    assert await run.ok("bash", command="true") == "(no output)"


async def test_background_jobs_keep_running_between_calls(run: Runner) -> None:
    await run.ok("bash", command="(until [ -e go ]; do sleep 0.05; done; echo done > bg.txt) &")
    assert await run.ok("bash", command="touch go; until [ -s bg.txt ]; do sleep 0.05; done; cat bg.txt") == "done"


async def test_a_missing_command_reaching_the_agent_is_an_error(run: Runner) -> None:
    # the harness checks inputs before a sandbox sees them (tests/harness/test_router.py); the agent stays defensive
    assert await run.fails("bash") == "bash: command is required"


async def test_terminal_escapes_are_stripped(run: Runner) -> None:
    assert await run.ok("bash", command=r"printf '\033[31mred\033[0m\n'") == "red"


async def test_calls_run_concurrently_with_one_shell(sandbox: Sandbox) -> None:
    import anyio

    results: dict[str, str] = {}

    async def one(key: str, command: str) -> None:
        results[key] = text_of(await sandbox.execute("bash", {"command": command}, f"toolu_conc_{key}"))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(one, "a", "sleep 0.2; echo a")
        tasks.start_soon(one, "b", "echo b")
        tasks.start_soon(one, "read", "echo r")
    assert results == {"a": "a", "b": "b", "read": "r"}
