"""Issue 17's "done when", end to end through the official SDK against a live ``corral serve``: an agent uses a
GitHub-style token and a bearer-protected MCP server, and the token never appears inside the sandbox nor in any
output.

The world: a loopback HTTPS "GitHub" (``upstream``: it echoes each request it gets, headers included, like a hostile
server reflecting the credential) with a test certificate the egress trusts (``CORRAL_EGRESS_UPSTREAM_CA``) and
reaches although it is loopback (``CORRAL_EGRESS_ALLOW_PRIVATE``); a ``ScriptedMcpServer`` whose ``echo_headers``
tool reflects the Authorization header; a scripted model acting as the agent. A vault holds a canary
``GITHUB_TOKEN`` (``environment_variable``, allowed on the test host, in headers), a second canary whose only host
the environment does not allow (``credential_host_unreachable_error``), and a canary ``static_bearer`` for the MCP
server.

After the session, everything is scanned for each canary in clear: every event (``events.list`` to the end, and
the stream), every API response body of the test, every file under the data dir (the server's log, the SQLite
file and its WAL, the sandboxes' journal and workspaces, the proxy's state).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from corral.egress.injection import PREFIX
from corral.sandbox.runtime import runtime_dir
from corral.testing import ScriptedMcpServer, ScriptedModelServer, reply, text, tool_use
from tests.egress.conftest import Upstream, via_proxy
from tests.live import LiveServer, live_server
from tests.mcp.helpers import RecordingClient, drain, message, of_type, recording, toolset

pytestmark = pytest.mark.timeout(300)
GITHUB = f"cnry_{secrets.token_hex(16)}"
FAR = f"cnry_{secrets.token_hex(16)}"
BEARER = f"cnry_{secrets.token_hex(16)}"
CANARIES = (GITHUB, FAR, BEARER)
#: the whole-filesystem grep, its pattern assembled at run time: no command line (nor event) holds a canary
SWEEP = (
    f'env | grep GITHUB; P={GITHUB[:9]}; grep -rIl "${{P}}{GITHUB[9:]}" / --exclude-dir=proc --exclude-dir=sys'
    " 2>/dev/null | head; echo swept"
)


@dataclass
class World:
    live: LiveServer
    model: ScriptedModelServer
    mcp: ScriptedMcpServer
    upstream: Upstream


@pytest.fixture(scope="module")
def world(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("credentials-e2e")
    trusted = tmp / "upstream-ca.pem"  # read by the egress as its own uid: world-readable
    trusted.write_text(upstream.cert_pem)
    trusted.chmod(0o644)
    data = tmp / "data"
    with ScriptedMcpServer(BEARER) as mcp, ScriptedModelServer({"replies": []}) as model:
        env = {
            "ANTHROPIC_BASE_URL": model.url,
            "CORRAL_LEASE_TTL": "5",
            "CORRAL_EGRESS_ALLOW_PRIVATE": "127.0.0.1",  # the test's "GitHub" and MCP server listen on loopback
            "CORRAL_EGRESS_UPSTREAM_CA": str(trusted),
        }
        with live_server(f"sqlite:///{data / 'corral.db'}", data_dir=data, env=env) as live:
            yield World(live, model, mcp, upstream)


def _vault(client: RecordingClient, world: World) -> tuple[str, str]:
    """A vault with the three credentials: its id, and the id of the one the environment cannot reach."""
    sdk = client.sdk
    vault = sdk.beta.vaults.create(display_name="github access")
    github: Any = {
        "type": "environment_variable",
        "secret_name": "GITHUB_TOKEN",
        "secret_value": GITHUB,
        "networking": {"type": "limited", "allowed_hosts": ["localhost"]},
        "injection_location": {"header": True},
    }
    far: Any = {
        "type": "environment_variable",
        "secret_name": "FAR_TOKEN",
        "secret_value": FAR,
        "networking": {"type": "limited", "allowed_hosts": ["api.example.com"]},
    }
    bearer: Any = {"type": "static_bearer", "mcp_server_url": world.mcp.url, "token": BEARER}
    made = [sdk.beta.vaults.credentials.create(vault.id, auth=auth) for auth in (github, far, bearer)]
    return vault.id, made[1].id


def _script(world: World) -> dict[str, Any]:
    header = '-H "Authorization: Bearer $GITHUB_TOKEN"'
    curl = via_proxy(f"https://localhost:{world.upstream.tls_port}/user", header)
    return {
        "replies": [
            reply(tool_use("bash", {"command": curl})),
            reply(tool_use("bash", {"command": SWEEP})),
            reply(tool_use("mcp__github__echo_headers", {})),
            reply(text("Done.")),
        ]
    }


def _user_request(upstream: Upstream) -> dict[str, Any]:
    return next(seen for seen in reversed(upstream.requests) if seen["path"] == "/user")


def _authorization(seen: dict[str, Any]) -> str:
    headers = cast(dict[str, str], seen["headers"])
    return next(value for key, value in headers.items() if key.lower() == "authorization")


def _files(data_dir: Path) -> Iterator[Path]:
    """Every file of the server's: its data dir (the database, the log, the journal, the proxy's state; not the
    sparse image the workspaces live in) and its runtime dir (where that image is mounted: the workspaces)."""
    for root in (data_dir, runtime_dir(data_dir)):
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink() and path.stat().st_size < 64 * 1024 * 1024:
                yield path


def test_a_github_token_and_an_mcp_bearer_never_reach_the_sandbox_or_any_output(world: World) -> None:
    with recording(world.live) as client:
        world.model.set_script(_script(world))
        vault_id, far_id = _vault(client, world)
        sdk = client.sdk
        agent: Any = sdk.beta.agents.create(
            name="github user",
            model="claude-sonnet-4-6",
            mcp_servers=[{"type": "url", "name": "github", "url": world.mcp.url}],
            tools=[{"type": "agent_toolset_20260401"}, cast(Any, toolset("github", "always_allow"))],
        )
        environment = sdk.beta.environments.create(
            name="github", config={"type": "cloud", "networking": {"type": "limited", "allowed_hosts": ["localhost"]}}
        )
        session = sdk.beta.sessions.create(agent=agent.id, environment_id=environment.id, vault_ids=[vault_id])
        streamed = drain(client, session.id, message("Who am I on GitHub?"))
        listed = [event.model_dump_json() for event in sdk.beta.sessions.events.list(session.id)]
        client.bodies.extend(listed)

    # the test's "GitHub" got the real token; the sandbox got its echo masked, and only a placeholder
    assert _authorization(_user_request(world.upstream)) == f"Bearer {GITHUB}"
    results = [event.content[0].text for event in of_type(streamed, "agent.tool_result")]
    assert _authorization(json.loads(results[0][results[0].index("{") :])) == "Bearer " + "*" * len(GITHUB)
    variable, swept = results[1].split()  # no file of the sandbox's holds the token: grep listed none
    assert variable.startswith(f"GITHUB_TOKEN={PREFIX}") and len(variable) == len("GITHUB_TOKEN=") + len(PREFIX) + 32
    assert swept == "swept"

    # the credential the environment cannot reach: one session.error naming it, and the session went on
    errors = [event.error for event in of_type(streamed, "session.error")]
    unreachable = [error for error in errors if error.type == "credential_host_unreachable_error"]
    assert len(unreachable) == 1 and unreachable[0].retry_status.type == "retrying"
    assert (unreachable[0].vault_id, unreachable[0].credential_id) == (vault_id, far_id)
    assert streamed[-1].stop_reason.type == "end_turn"

    # the MCP server got the bearer; its reflection did not reach the event log
    assert [call.name for call in world.mcp.calls] == ["echo_headers"]
    mcp_result = of_type(streamed, "agent.mcp_tool_result")[0]
    assert mcp_result.is_error is False and '"authorization": "Bearer [redacted]"' in mcp_result.content[0].text

    # and no canary anywhere in clear
    for canary in CANARIES:
        assert not [body for body in client.bodies if canary in body], "a canary reached an API response or event"
        for path in _files(world.live.data_dir):
            assert canary.encode() not in path.read_bytes(), path
    scanned = {path.name for path in _files(world.live.data_dir)}
    assert {"server.log", "corral.db", "corral.db-wal"} <= scanned
    assert (runtime_dir(world.live.data_dir) / "fs" / "ws").is_dir()  # the workspaces were in the scan
