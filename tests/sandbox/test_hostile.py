"""Hostile code and bad input: each ends as a bounded, clear tool error or a harmless contained result, and
the host, the server and the other sessions carry on (architecture.md §3.4 items 1, 2, 4, 9, 11)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

import pytest

from corral.sandbox import Sandbox
from corral.sandbox.local import LocalSandboxProvider
from tests.conftest import postgres_admin_url
from tests.sandbox.conftest import TIGHT, Runner, new_spec

pytestmark = pytest.mark.anyio
CANARY = "cnry_5b0c1f0e9d8a4e6f"


@pytest.fixture
async def tight(provider: LocalSandboxProvider) -> AsyncIterator[Runner]:
    """A sandbox with small limits: 128 MiB memory, 64 processes, 64 MiB of disk, 30 s per call."""
    sandbox = await provider.provision(new_spec(limits=TIGHT))
    try:
        yield Runner(sandbox)
    finally:
        await sandbox.release()


@pytest.fixture
async def bystander(provider: LocalSandboxProvider) -> AsyncIterator[Sandbox]:
    """Another session running beside the hostile one; it must not notice anything."""
    sandbox = await provider.provision(new_spec())
    try:
        yield sandbox
    finally:
        await sandbox.release()


async def processes(run: Runner) -> list[str]:
    """Names of every process the sandbox can see."""
    return sorted((await run.ok("bash", command="ps -e -o comm=")).split("\n"))


async def unaffected(bystander: Sandbox) -> None:
    assert await Runner(bystander).ok("bash", command="echo ok > f && seq 3 | wc -l && cat f") == "3\nok"


async def test_a_fork_bomb_is_stopped_at_the_process_limit(tight: Runner, bystander: Sandbox) -> None:
    text = await tight.fails("bash", command=":(){ :|:& };:; sleep 2; echo survived", timeout_ms=20_000)
    assert "[sandbox: the limit of 64 processes was reached; every process in the sandbox was stopped" in text
    assert await processes(tight) == ["bash", "bwrap", "ps", "python3"]  # init, agent, shell, and ps itself
    await unaffected(bystander)


async def test_a_memory_hog_is_killed_and_the_sandbox_lives_on(tight: Runner, bystander: Sandbox) -> None:
    text = await tight.fails("bash", command="python3 -c 'x = bytearray(400 << 20); print(len(x))'")
    assert "Killed" in text and "[exit code 137]" in text
    assert "[sandbox: a process was killed for exceeding the 128 MiB memory limit]" in text
    assert await tight.ok("bash", command="echo alive") == "alive"
    await unaffected(bystander)


async def test_filling_the_disk_stops_at_the_workspace_quota(
    tight: Runner, bystander: Sandbox, provider: LocalSandboxProvider
) -> None:
    assert provider.host.disk.quota_enforced
    text = await tight.fails("bash", command="for i in $(seq 1 40); do head -c 4000000 /dev/zero > f$i || exit 1; done")
    assert "Disk quota exceeded" in text
    assert "Disk quota exceeded" in await tight.fails(
        "bash", command="mkdir -p d && for i in $(seq 1 5000); do echo x > d/$i || exit 1; done"
    )
    await tight.ok("bash", command="rm -rf f* d")
    assert await tight.ok("write", file_path="after.txt", content="room again") == "wrote 10 bytes to after.txt"
    await unaffected(bystander)


async def test_filling_tmp_is_bounded(tight: Runner) -> None:
    text = await tight.fails("bash", command="head -c 200000000 /dev/zero > /tmp/big")
    assert "File size limit exceeded" in text or "No space left on device" in text
    assert await tight.ok("bash", command="rm /tmp/big; echo cleared") == "cleared"


async def test_endless_output_is_stopped(tight: Runner) -> None:
    text = await tight.fails("bash", command="yes corral")
    assert text.startswith("[output truncated: showing the last 100 KiB of ")
    assert text.endswith(
        "bash: output exceeded 32 MiB; the command was stopped; the shell was restarted "
        "(working directory and variables are reset)"
    )
    assert await tight.ok("bash", command="echo next") == "next"


async def test_sleeping_forever_times_out(tight: Runner) -> None:
    text = await tight.fails("bash", command="sleep infinity", timeout_ms=500)
    assert (
        text
        == "bash: command timed out after 500 ms; the shell was restarted (working directory and variables are reset)"
    )


async def test_a_call_past_the_wall_clock_limit_stops_the_sandbox(provider: LocalSandboxProvider) -> None:
    sandbox = await provider.provision(new_spec(limits=replace(TIGHT, wall_seconds=1.0)))
    run = Runner(sandbox)
    try:
        await run.ok("bash", command="python3 -c \"print('a' * 1990 + 'b')\" > long.txt")
        text = await run.fails("grep", pattern="(a+)+$")  # catastrophic backtracking, 30 s of CPU
        assert text == (
            "grep: sandbox: the sandbox was stopped (the call exceeded the 1 s wall-clock limit); "
            "the next call starts a fresh sandbox with the same /workspace"
        )
        assert not sandbox.alive
    finally:
        await sandbox.release()


async def test_binary_output_becomes_clean_text(tight: Runner) -> None:
    text = await tight.ok("bash", command="head -c 4096 /dev/urandom; printf '\\0\\0end'")
    assert "\x00" not in text and text.endswith("\ufffd\ufffdend")
    text.encode("utf-8")


async def test_the_host_environment_and_secrets_are_not_visible(tight: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORRAL_TEST_CANARY", CANARY)
    pattern = "'cnry[_]5b0c1f0e'"  # the brackets keep the canary itself out of grep's own command line
    sweep = f"cat /proc/*/environ /proc/*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -c {pattern} || true; "
    sweep += f"env | grep -c {pattern}"
    assert await tight.fails("bash", command=sweep) == "0\n0\n[exit code 1]"
    assert "No such file or directory" in await tight.fails("bash", command="cat /etc/shadow")
    assert await tight.ok("bash", command="ls /etc | sort | tr '\\n' ' '") == (
        "alternatives ca-certificates ca-certificates.conf group hosts ld.so.cache localtime mime.types "
        "nsswitch.conf os-release passwd protocols services ssl "
    )
    assert await processes(tight) == ["bash", "bwrap", "ps", "python3"]


async def test_the_data_dir_database_and_journal_are_out_of_reach(
    tight: Runner, provider: LocalSandboxProvider
) -> None:
    for path in (
        provider.host.layout.data_dir,
        provider.host.layout.state,
        provider.host.layout.journal,
        Path("/work"),
    ):
        assert "No such file or directory" in await tight.fails("bash", command=f"ls {path}")
    found = "find / \\( -name 'corral.db*' -o -name 'workspaces.btrfs' -o -name '*.started' \\) 2>/dev/null | wc -l"
    assert await tight.ok("bash", command=found) == "0"


async def test_pid_1_and_the_mount_table_show_no_host_data_dir_path(
    tight: Runner, provider: LocalSandboxProvider
) -> None:
    """bwrap's arguments reach it through ``--args``: pid 1's command line names no mount source; the mount
    table names sources by their path inside their own filesystem (the workspace disk's ``/ws/<session>``),
    never the data dir or this data dir's runtime directory. (What stays visible is in the README's guarantees.)"""
    layout = provider.host.layout
    cmdline = await tight.ok("bash", command="tr '\\0' ' ' </proc/1/cmdline")
    mountinfo = await tight.ok("bash", command="cat /proc/self/mountinfo /proc/1/mountinfo")
    assert cmdline.startswith("/usr/bin/bwrap --args ") and "--bind" not in cmdline
    for secret in (str(layout.data_dir.resolve()), str(layout.data_dir), str(layout.run), str(layout.state)):
        assert secret not in cmdline and secret not in mountinfo, secret
    owner = provider.host.disk.owner(next(iter(provider.host.disk.session_workspaces())))
    assert owner is not None and str(owner) not in cmdline
    assert "bwrap-args" not in await tight.ok("bash", command="ls -l /proc/1/fd 2>&1 || true")


async def test_other_sessions_workspaces_are_out_of_reach(provider: LocalSandboxProvider, tight: Runner) -> None:
    victim_spec = new_spec()
    victim = await provider.provision(victim_spec)
    try:
        await Runner(victim).ok("write", file_path="secret.txt", content=CANARY)
        victim_path = provider.workspace_path(victim_spec.session_id)
        assert "No such file or directory" in await tight.fails("bash", command=f"cat {victim_path}/secret.txt")
        writable = "/workspace /tmp /home /run /opt /dev/shm /mnt"
        assert await tight.ok("bash", command=f"grep -rls {CANARY} {writable} 2>/dev/null | wc -l") == "0"
    finally:
        await victim.release()


@pytest.fixture
def host_http_server() -> Iterator[int]:
    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(CANARY.encode())

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


async def test_the_host_loopback_and_network_are_unreachable(tight: Runner, host_http_server: int) -> None:
    postgres_port = urlparse(postgres_admin_url()).port
    for port in (host_http_server, postgres_port):
        text = await tight.fails("bash", command=f"curl -sS -m 3 --noproxy '*' http://127.0.0.1:{port}/")
        assert "Couldn't connect to server" in text and CANARY not in text
    probe = "import socket; s = socket.create_connection(('{}', 80), timeout=3)"
    for address in ("169.254.169.254", "192.0.2.2", "10.0.0.1"):
        assert "Network is unreachable" in await tight.fails("bash", command=f'python3 -c "{probe.format(address)}"')
    interfaces = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"
    assert await tight.ok("bash", command=interfaces) == "lo"


async def test_privileges_cannot_be_raised(tight: Runner) -> None:
    status = await tight.ok("bash", command="grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status")
    assert status.split("\n") == [
        "Uid:\t1000\t1000\t1000\t1000",
        "CapEff:\t0000000000000000",
        "CapBnd:\t0000000000000000",
        "NoNewPrivs:\t1",
        "Seccomp:\t2",
    ]
    attempts = {
        "unshare -U true": "Operation not permitted",
        "unshare -r true": "Operation not permitted",
        "mount -t tmpfs none /tmp": "must be superuser",
        "su -c id root </dev/null": "su: ",
        "touch /usr/bin/evil": "Read-only file system",
        "touch /etc/evil": "Read-only file system",
        "python3 -c 'import os; os.setuid(0)'": "Invalid argument",  # uid 0 does not exist in the sandbox
        "python3 -c 'import ctypes; assert ctypes.CDLL(None).ptrace(16, 1, 0, 0) == 0, ctypes.get_errno()'": "Error",
        "python3 -c 'import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)'": "Address family not supported",
        "python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)'": "Operation not permitted",
        "echo 3 > /proc/sys/vm/drop_caches": "/proc/sys/vm/drop_caches: ",
    }
    for command, expected in attempts.items():
        text = await tight.fails("bash", command=command)
        assert expected in text, (command, text)
