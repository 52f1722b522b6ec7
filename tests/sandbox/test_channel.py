"""The host end of the agent protocol against a real process that misbehaves: nothing it sends can crash the
host, a malformed or oversized reply closes the channel, and a waiting call then gets None (never hangs)."""

from __future__ import annotations

import contextlib
import subprocess
import sys

import anyio
import pytest

from corral._types import JSONObject
from corral.sandbox.local.channel import AgentChannel

pytestmark = pytest.mark.anyio
READ = "import sys; n = int.from_bytes(sys.stdin.buffer.read(4), 'big'); sys.stdin.buffer.read(n)"  # one request


async def talk(script: str, max_line: int = 1024) -> tuple[JSONObject | None, bool]:
    """Run ``script`` as the "agent", make one call, return (reply, closed)."""
    process = await anyio.open_process([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    channel = AgentChannel(process.stdin, process.stdout, max_line)
    reply: JSONObject | None = None
    async with process, anyio.create_task_group() as tasks:
        tasks.start_soon(channel.serve)
        with anyio.fail_after(20):
            reply = await channel.call("bash", {"command": "true"}, 5.0)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        tasks.cancel_scope.cancel()
    return reply, channel.closed.is_set()


async def test_odd_ids_are_ignored_and_the_real_reply_arrives() -> None:
    script = (
        f"{READ}; "
        'print(\'{"id": [1]}\'); print(\'{"id": {"a": 1}}\'); print(\'{"id": 1.0}\'); '
        'print(\'{"id": 1, "content": [{"type": "text", "text": "ok"}]}\', flush=True)'
    )
    reply, _ = await talk(script)
    assert reply == {"id": 1, "content": [{"type": "text", "text": "ok"}]}


@pytest.mark.parametrize(
    "garbage",
    ["print('not json', flush=True)", "print('[1, 2]', flush=True)", "print('x' * 5000, flush=True)"],
)
async def test_garbage_closes_the_channel_and_frees_the_caller(garbage: str) -> None:
    reply, closed = await talk(f"{READ}; {garbage}; {READ}")
    assert (reply, closed) == (None, True)


async def test_an_agent_that_exits_frees_the_caller() -> None:
    reply, closed = await talk(READ)
    assert (reply, closed) == (None, True)
