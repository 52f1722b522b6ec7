"""The egress proxy process of a live ``corral serve`` whose environment holds canary secrets (the admin key, model
provider keys, one of corral's own variables): the proxy holds none of them, runs as a uid of its own with no
capabilities under its own seccomp filter, and cannot see the database; from inside a sandbox of that server,
no process environment holds a canary either. Last, ``corral serve`` shuts down on SIGTERM even while its
proxy is frozen (SIGSTOP) and a sandbox still has a channel, and its proxies end when it is killed (kill -9).
"""

from __future__ import annotations

import os
import secrets
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from corral.egress.jail import BWRAP, EGRESS_UID
from corral.testing import ScriptedModelServer, reply, text, tool_use
from tests.live import LiveServer, live_server
from tests.sandbox.test_sdk_e2e import run_turn

pytestmark = pytest.mark.timeout(300)
CANARIES = {name: f"cnry_{secrets.token_hex(16)}" for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "CORRAL_CANARY")}
#: every canary, by a pattern that does not match itself (the sweep's own command line holds it)
_SWEEP = (
    "cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n'"
    " | grep -c -E 'cnr[y]_[0-9a-f]{32}' || true; ls -d /proc/[0-9]* | wc -l"
)
SCRIPT = {"replies": [reply(tool_use("bash", {"command": _SWEEP})), reply(text("Done."))]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("isolation") / "data"
    with ScriptedModelServer(SCRIPT) as model_server:
        env = {"ANTHROPIC_BASE_URL": model_server.url, "CORRAL_LEASE_TTL": "5", **CANARIES}
        with live_server(f"sqlite:///{data / 'corral.db'}", data_dir=data, env=env) as running:
            yield running


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        try:
            pid = _parent(pid)
        except OSError:
            return False
        if pid == ancestor:
            return True
    return False


def proxy_pids(server: LiveServer) -> list[int]:
    """The egress proxy processes under ``server`` (the Python processes inside their bwrap: the one serving
    and, once warmed, the one in standby)."""
    found = _proxies_under(server)
    assert found, "no egress proxy process under the server"
    return found


def _proxies_under(server: LiveServer) -> list[int]:
    assert server.process is not None
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if command[0] == BWRAP.encode() or b"corral.egress" not in command:
            continue
        if _descends_from(int(entry.name), server.process.pid):
            found.append(int(entry.name))
    return found


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def test_the_proxy_holds_no_secret_runs_unprivileged_and_sees_no_database(server: LiveServer) -> None:
    with anthropic.Anthropic(base_url=server.base_url, api_key=server.api_key, max_retries=0) as client:
        agent = client.beta.agents.create(
            name="a", model="claude-sonnet-4-6", tools=[{"type": "agent_toolset_20260401"}]
        )
        environment = client.beta.environments.create(name="e", config={"type": "cloud"})
        session = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
        events = run_turn(client, session.id, "Look around.")
    [result] = [e for e in events if e["type"] == "agent.tool_result"]
    found, processes = str(result["content"][0]["text"]).split("\n")
    assert found == "0"  # no process the sandbox can see holds a canary
    assert int(processes) < 10  # it sees its own few processes, never the proxy or the server

    for pid in proxy_pids(server):
        _started(pid)
        _assert_hardened(server, pid)


def _started(pid: int, seconds: float = 60.0) -> None:
    """Until the proxy ``pid`` has hardened itself (a standby one may still be starting when it is found)."""
    deadline = time.monotonic() + seconds
    while _status(pid)["Seccomp"] != "2" and time.monotonic() < deadline:
        time.sleep(0.05)  # noqa: TID251 - polling another process's state


def _assert_hardened(server: LiveServer, pid: int) -> None:
    secrets_held = [*CANARIES.values(), server.api_key]
    for name in ("environ", "cmdline"):
        raw = Path(f"/proc/{pid}/{name}").read_bytes()
        assert not [value for value in secrets_held if value.encode() in raw], name
    environ = dict(item.split("=", 1) for item in Path(f"/proc/{pid}/environ").read_text().split("\0") if item)
    assert set(environ) <= {"PATH", "LANG", "PWD"}
    status = _status(pid)
    assert status["Uid"].split() == [str(EGRESS_UID)] * 4 and status["Gid"].split() == [str(EGRESS_UID)] * 4
    assert status["Groups"] == ""
    for capabilities in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[capabilities], 16) == 0, capabilities
    assert (status["NoNewPrivs"], status["Seccomp"]) == ("1", "2")
    assert os.readlink(f"/proc/{pid}/exe") == os.path.realpath(_python(server))
    assert not Path(f"/proc/{pid}/root{server.data_dir}/corral.db").exists()


def _python(server: LiveServer) -> str:
    assert server.process is not None
    return os.readlink(f"/proc/{server.process.pid}/exe")


def test_serve_shuts_down_on_sigterm_even_with_a_frozen_proxy(server: LiveServer) -> None:
    assert server.process is not None
    pids = proxy_pids(server)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"corral serve ignored SIGTERM:\n{server.log_tail()}") from None
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat")
        state = stat.read_text().rsplit(")", 1)[1].split()[0] if stat.exists() else "-"
        assert state in ("-", "Z"), state  # gone (or a zombie waiting for init to reap it)


def _ends(pid: int, seconds: float) -> bool:
    """``pid`` exits within ``seconds`` (waited on through a pidfd; True if it is gone already)."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([handle], [], [], seconds)[0])
    finally:
        os.close(handle)


def test_the_proxies_end_when_serve_is_killed(tmp_path: Path) -> None:
    """kill -9 runs no shutdown code; the proxies (serving and standby) see their stdin end and exit."""
    with live_server(f"sqlite:///{tmp_path / 'corral.db'}", data_dir=tmp_path) as server:
        deadline = time.monotonic() + 120
        while len(pids := _proxies_under(server)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # noqa: TID251 - waiting on another process's children to appear
        assert len(pids) == 2, pids
        server.kill()
        assert [pid for pid in pids if not _ends(pid, 60)] == []
